// mwlake's release version: `mwlake --version` and the dumps' <generator>. Kept equal to
// package.json's by a test, and a constant so that neither reads package.json at run time.

export const VERSION = '0.1.0';
