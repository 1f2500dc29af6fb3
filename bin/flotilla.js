#!/usr/bin/env node
// The flotilla command: TypeScript sources run through tsx's loader, registered here.
import { register } from "tsx/esm/api";

register();
await import("../components/cli/main.ts");
