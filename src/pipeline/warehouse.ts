// The job's Iceberg warehouse on local storage.

import type { Logger } from '../core/log.js';
import { fileLocation, LocalStorage } from '../core/storage.js';
import { Warehouse } from '../iceberg/catalog.js';
import type { JobConfig } from './config.js';

/** `logger` receives commit logs; read-only commands leave it out (and skip loading the logger). */
export function warehouseOf(config: JobConfig, logger?: Logger): Warehouse {
  return new Warehouse(new LocalStorage(), fileLocation(config.warehouse), logger);
}
