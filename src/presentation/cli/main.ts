#!/usr/bin/env node
import { processIo } from './cli-io.js';
import { runCli } from './program.js';

const code = await runCli(process.argv, processIo());
// A command that failed may leave work under way behind it (a connection, a timer): the process ends with it.
if (code !== 0) process.exit(code);
