#!/usr/bin/env -S node --max-semi-space-size=64
// Kept outside dist/ so npm links the `weft` bin at install time, before the first build.
//
// --max-semi-space-size=64: the engine keeps every record and session alive for minutes of event
// time, and V8's default 16 MiB young generation copied that state over and over in scavenges
// (~20 % of a replay's time); a larger semi-space lets short-lived garbage die first (bench:engine
// ratio +10–20 %). Running `node backend/bin/weft.js` directly skips it: pass the flag yourself.
await import('../dist/cli/main.js');
