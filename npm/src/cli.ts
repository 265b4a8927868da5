/** `npx costline ...`: the same command as Python's `costline` (the core's CLI). */

import { native } from "./binding";

process.exitCode = native.cliMain(process.argv.slice(2));
