// Prints 1 when Debian's libgloo-dev (headers and the library) is installed, else 0, for
// binding.gyp: the Gloo shim (convkit_gloo.so) is built only then, and the addon builds either
// way (it loads the shim at run time). CONVKIT_NO_GLOO=1 skips the shim even where Gloo is.
const fs = require('fs');
const include = process.env.CONVKIT_GLOO_INCLUDE || '/usr/include';
const header = `${include}/gloo/rendezvous/context.h`;
const libs = ['/usr/lib/libgloo.so', '/usr/lib/x86_64-linux-gnu/libgloo.so', '/usr/lib/aarch64-linux-gnu/libgloo.so'];
const found = process.env.CONVKIT_NO_GLOO !== '1' && fs.existsSync(header) && libs.some((l) => fs.existsSync(l));
console.log(found ? 1 : 0);
