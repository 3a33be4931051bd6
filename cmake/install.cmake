# cmake --install: every program, libswarm (the client API: one static
# archive with the embedded schemas and migrations) with its public headers,
# and swarm.pc for pkg-config.  A C application builds against it with
#   cc app.c $(pkg-config --cflags --libs swarm)
# (tests/install/test-install.sh does exactly that from a temporary prefix).
include(GNUInstallDirs)

install(TARGETS swarm-producer swarm-consumer swarm-registry swarm-scaler
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS swarm ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The CUDA backend module: programs load it from the path the build put it
# at; an installed tree without the build tree points them at this copy with
# SWARM_CUDA_MODULE=<prefix>/lib/swarm/libswarm_cuda_module.so (--version
# says whether the module it would load is there).
if(SWARM_CUDA_ENABLED)
  install(TARGETS swarm_cuda_module LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/swarm)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/swarm
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_SOURCE_DIR}/schemas/InferenceRequest.avsc
              ${PROJECT_SOURCE_DIR}/schemas/InferenceResponse.avsc
        DESTINATION ${CMAKE_INSTALL_DATADIR}/swarm/schemas)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/swarm-consumer@.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/swarm-scaler.service
        DESTINATION ${CMAKE_INSTALL_DATADIR}/swarm/systemd OPTIONAL)

# pkg-config (cmake/swarm.pc.in says how the static archive's dependencies
# are listed).  The
# prefix is computed from the .pc file's own place, so a relocated install
# (DESTDIR, a copied tree) still works.
file(RELATIVE_PATH SWARM_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" SWARM_PC_TO_PREFIX "${SWARM_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/swarm.pc.in
               ${PROJECT_BINARY_DIR}/swarm.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/swarm.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
