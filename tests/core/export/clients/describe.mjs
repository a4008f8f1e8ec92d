// Shared by the three.js scripts: what a loaded scene exposes, as one JSON line on stdout.
import { AnimationMixer, LoopOnce } from 'three';

export function describe(root, clips, times) {
  const meshes = [];
  root.traverse((o) => { if (o.isMesh) meshes.push(o); });
  const mesh = meshes[0];
  const dict = mesh.morphTargetDictionary || {};
  const names = Object.keys(dict).sort((a, b) => dict[a] - dict[b]);
  const morph = mesh.geometry.morphAttributes.position || [];
  const maxDelta = morph.map((a) => a.array.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
  const clip = clips[0];
  const out = {
    meshes: meshes.length,
    meshName: mesh.name,
    vertices: mesh.geometry.attributes.position.count,
    relative: mesh.geometry.morphTargetsRelative,
    names,
    maxDelta,
    clips: clips.length,
  };
  if (clip) {
    out.duration = clip.duration;
    out.tracks = clip.tracks.map((t) => ({ name: t.name, keys: t.times.length, first: t.times[0],
      last: t.times[t.times.length - 1] }));
    const mixer = new AnimationMixer(root);
    const action = mixer.clipAction(clip);
    action.setLoop(LoopOnce); // play once and hold the last key, so t = duration is the last key
    action.clampWhenFinished = true;
    action.play();
    out.weights = times.map((t) => { mixer.setTime(t); return Array.from(mesh.morphTargetInfluences); });
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

export function arrayBuffer(bytes) {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}
