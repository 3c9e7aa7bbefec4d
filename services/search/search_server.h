/*  search_server — the oim-search daemon: its options, methods and hooks for the template. */
#ifndef SEARCH_SERVER_H_INCLUDED
#define SEARCH_SERVER_H_INCLUDED

#include "oim_service.h"

extern const oim_service_def_t search_service;

#endif
