// A shared library that is not a Brook job (no BROOK_JOB, so no brook_job_entry): the job
// manager must refuse it with a clear error.
extern "C" int not_a_brook_job() { return 42; }
