/*  matcher_server — the oim-matcher daemon: its options, methods and hooks for the template. */
#ifndef MATCHER_SERVER_H_INCLUDED
#define MATCHER_SERVER_H_INCLUDED

#include "oim_service.h"

extern const oim_service_def_t matcher_service;

#endif
