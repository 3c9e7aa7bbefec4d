# The oim-search daemon (included from this directory's CMakeLists.txt): search_server.c on the
# daemon template, linked with the search library.
add_library(search_daemon_lib STATIC ${CMAKE_CURRENT_LIST_DIR}/search_server.c
            ${CMAKE_CURRENT_LIST_DIR}/search_sync.c)
target_include_directories(search_daemon_lib PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(search_daemon_lib PUBLIC oim_common search_lib)
add_executable(oim-search ${CMAKE_CURRENT_LIST_DIR}/main.c)
target_link_libraries(oim-search PRIVATE search_daemon_lib)
install(TARGETS oim-search RUNTIME DESTINATION bin)
