// Brook's user API: everything a job includes. See brook/jobs/data_stream.h for the
// DataStream API and brook/jobs/job_entry.h for BROOK_JOB.
#pragma once

#include "brook/jobs/async_data_stream.h"
#include "brook/jobs/connected_streams.h"
#include "brook/jobs/data_stream.h"
#include "brook/jobs/job_entry.h"
#include "brook/jobs/stream_environment.h"
#include "brook/jobs/window_join.h"
#include "brook/jobs/windowed_stream.h"
#include "brook/operators/dedup.h"
#include "brook/operators/exactly_once_file_sink.h"
#include "brook/operators/process_operator.h"
#include "brook/operators/sinks.h"
