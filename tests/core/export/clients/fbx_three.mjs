// Load an FBX with three.js's FBXLoader; print its morph targets, animation and weights at times.
// usage: node fbx_three.mjs FILE.fbx [SECONDS ...]
import { readFileSync } from 'node:fs';
import { FBXLoader } from 'three/addons/loaders/FBXLoader.js';
import { arrayBuffer, describe } from './describe.mjs';

const [file, ...times] = process.argv.slice(2);
const root = new FBXLoader().parse(arrayBuffer(readFileSync(file)), '');
describe(root, root.animations, times.map(Number));
