# The oim-notify daemon (included from this directory's CMakeLists.txt): notify_server.c on the
# daemon template, linked with the notify library.
add_library(notify_daemon_lib STATIC ${CMAKE_CURRENT_LIST_DIR}/notify_server.c)
target_include_directories(notify_daemon_lib PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(notify_daemon_lib PUBLIC oim_common notify_lib)
add_executable(oim-notify ${CMAKE_CURRENT_LIST_DIR}/main.c)
target_link_libraries(oim-notify PRIVATE notify_daemon_lib)
install(TARGETS oim-notify RUNTIME DESTINATION bin)
