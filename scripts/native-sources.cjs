// Prints the C++ sources of the CPU addon for binding.gyp, so a new kernel file needs no edit
// there: every .cc directly under native/core, native/cpu, native/comm and native/napi (the Gloo
// shim in native/comm/gloo_shim/ is a target of its own in binding.gyp).
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');
const out = [];
for (const dir of ['native/core', 'native/cpu', 'native/comm', 'native/napi']) {
  for (const f of fs.readdirSync(path.join(root, dir)).sort()) if (f.endsWith('.cc')) out.push(`${dir}/${f}`);
}
console.log(out.join(' '));
