#!/usr/bin/env node
// The `costline` command (npx costline ...). A stub committed beside the build so that
// installing the workspace links it even before dist/ is built.
require("../dist/cli.js");
