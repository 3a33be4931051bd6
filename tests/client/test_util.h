/* The client-area tests use the one test helper header. */
#ifndef SWARM_TEST_CLIENT_UTIL_H
#define SWARM_TEST_CLIENT_UTIL_H
#include "check.h"
#endif
