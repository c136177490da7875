// The error stream's name, alone in its module: the job config needs it at every CLI start, and
// error-event.ts would load the validators (ajv and the schema bundle) with it.

/** The error stream of a job, by the Event Platform convention `<job_name>.error`. */
export function errorStreamName(jobName: string): string {
  return `${jobName}.error`;
}
