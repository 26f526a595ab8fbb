#!/usr/bin/env node
import { processIo } from './cli-io.js';
import { runCli } from './program.js';

const io = processIo();
const code = await runCli(process.argv, io);
process.exitCode = code;
// A command that failed by throwing may leave work under way behind it (a connection, a timer): the process ends
// with it. One that printed its result and then set its exit code (a failed verification, a wait that timed out)
// ends by itself, after its output has reached a pipe however slowly it is read.
if (code !== 0 && io.exitCode !== code) process.exit(code);
