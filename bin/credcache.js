#!/usr/bin/env node
// Entry point of the `credcache` command; the code lives in dist/ (built by `npm ci` / `npm run build`).
import { main } from '../dist/daemon/cli.js';

process.exitCode = await main(process.argv.slice(2));
