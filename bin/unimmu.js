#!/usr/bin/env node
import "../build/node/cli.js";
