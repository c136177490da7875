import { DuckDBInstance } from '@duckdb/node-api';
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
const t = performance.now();
await connection.run(process.argv[2]);
console.log(((performance.now() - t) / 1000).toFixed(2), 's');
connection.closeSync(); instance.closeSync();
