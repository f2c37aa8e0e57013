#!/usr/bin/env node
// Kept outside dist/ so npm links the `weft` bin at install time, before the first build.
await import('../dist/cli/main.js');
