# The oim-notify daemon (included from the top-level CMakeLists.txt): notify_server.c on the
# daemon template (pipeline), notify_api.c (API handlers), notify_store.c (Redis scripts),
# linked with the engine's notify_lib.
add_library(notify_daemon_lib STATIC
  ${CMAKE_CURRENT_LIST_DIR}/notify_server.c
  ${CMAKE_CURRENT_LIST_DIR}/notify_api.c
  ${CMAKE_CURRENT_LIST_DIR}/notify_store.c)
target_include_directories(notify_daemon_lib PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(notify_daemon_lib PUBLIC oim_common notify_lib)
add_executable(oim-notify ${CMAKE_CURRENT_LIST_DIR}/main.c)
target_link_libraries(oim-notify PRIVATE notify_daemon_lib)
install(TARGETS oim-notify RUNTIME DESTINATION bin)

# Integration tests: real Redis, gateway, oim-notify, a signature-verifying webhook receiver
# and an SMTP server (services/notify/tests/receiver.py, smtp_server.py).
add_test(NAME notify_daemon
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/integration/test_notify.py)
set_tests_properties(notify_daemon PROPERTIES LABELS integration
                     ENVIRONMENT OIM_BUILD_DIR=${CMAKE_BINARY_DIR} TIMEOUT 600)
