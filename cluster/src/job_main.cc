// main() for job executables built with brook_add_job(): runs the job linked into this binary.
#include "brook/cluster/local_runner.h"

extern "C" const brook::JobEntry* brook_job_entry();

int main(int argc, char** argv) { return brook::RunJobMain(argc, argv, *brook_job_entry()); }
