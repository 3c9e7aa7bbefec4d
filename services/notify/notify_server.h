/*  notify_server — the oim-notify daemon: its options, methods and hooks for the template. */
#ifndef NOTIFY_SERVER_H_INCLUDED
#define NOTIFY_SERVER_H_INCLUDED

#include "oim_service.h"

extern const oim_service_def_t notify_service;

#endif
