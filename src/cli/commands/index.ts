// The list of CLI commands, in the order `mwlake --help` shows them.

import type { RegisterCommand } from '../context.js';
import { registerGen } from './gen.js';
import { registerJobs } from './jobs.js';
import { registerQuery } from './query.js';
import { registerTable } from './table.js';

export const COMMANDS: readonly RegisterCommand[] = [registerJobs, registerQuery, registerTable, registerGen];
