// Run the Khronos glTF validator on a .glb; print its report as JSON.
// usage: node validate.mjs FILE.glb
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import validator from 'gltf-validator';

const file = process.argv[2];
const report = await validator.validateBytes(new Uint8Array(readFileSync(file)),
  { uri: basename(file), format: 'glb', maxIssues: 1000, writeTimestamp: false });
process.stdout.write(JSON.stringify(report) + '\n');
