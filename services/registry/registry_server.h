/*  registry_server — the oim-registry daemon: its options, methods and hooks for the template. */
#ifndef REGISTRY_SERVER_H_INCLUDED
#define REGISTRY_SERVER_H_INCLUDED

#include "oim_service.h"

extern const oim_service_def_t registry_service;

#endif
