#!/usr/bin/env node
// Entry point of `eventops` and `eoctl`: runs the compiled CLI from dist/ (built by `npm install`).
let cli;
try {
  cli = await import('../dist/cli/index.js');
} catch (error) {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli')) {
    process.stderr.write('eventops is not built yet: run `npm install` (or `npm run build`) in the eventops folder first\n');
    process.exit(2);
  }
  throw error;
}
const code = await cli.run(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  cwd: process.cwd(),
});
process.exitCode = code;
