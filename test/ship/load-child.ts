// Run by loader.test.ts in a child process (with CONVKIT_TEST_PACKAGE_ROOT or CONVKIT_ADDON set):
// imports the library and prints, as one JSON line, the binary it loaded or the error it got.
try {
  const m = await import('../../lib/index.js');
  const cpu = m.backends().find((b) => b.name === 'cpu');
  console.log(JSON.stringify({ loaded: cpu?.details?.addon }));
} catch (e) {
  const err = e as Error & { code?: string };
  console.log(JSON.stringify({ code: err.code, name: err.name, message: err.message }));
}
