// The list of CLI commands, in the order `mwlake --help` shows them.

import type { RegisterCommand } from '../context.js';
import { registerGen } from './gen.js';

export const COMMANDS: readonly RegisterCommand[] = [registerGen];
