// Load a GLB with three.js's GLTFLoader; print its morph targets, animation and weights at times.
// usage: node gltf_three.mjs FILE.glb [SECONDS ...]
import { readFileSync } from 'node:fs';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { arrayBuffer, describe } from './describe.mjs';

const [file, ...times] = process.argv.slice(2);
new GLTFLoader().parse(arrayBuffer(readFileSync(file)), '',
  (gltf) => describe(gltf.scene, gltf.animations, times.map(Number)),
  (error) => { console.error(String(error)); process.exit(1); });
