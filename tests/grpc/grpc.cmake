# Included by the top CMakeLists.txt: gRPC through the proxy with @grpc/grpc-js (pinned in
# tests/grpc/package-lock.json) as client and as the h2 upstream, against a real daemon started by
# tests/grpc/run.sh. `npm ci` installs the package as a ctest fixture.
if(SLIPWAY_NODE AND SLIPWAY_NPM)
  set(_grpc_dir ${CMAKE_SOURCE_DIR}/tests/grpc)
  add_test(NAME grpc_npm_ci
           COMMAND ${SLIPWAY_NPM} ci --no-audit --no-fund --prefer-offline
           WORKING_DIRECTORY ${_grpc_dir})
  set_tests_properties(grpc_npm_ci PROPERTIES FIXTURES_SETUP grpc_node_modules TIMEOUT 300
                       RESOURCE_LOCK grpc_node_modules)
  add_test(NAME grpc_e2e
           COMMAND sh ${_grpc_dir}/run.sh $<TARGET_FILE:slipway> ${SLIPWAY_NODE}
           WORKING_DIRECTORY ${_grpc_dir})
  set_tests_properties(grpc_e2e PROPERTIES FIXTURES_REQUIRED grpc_node_modules TIMEOUT 180
                       RESOURCE_LOCK grpc_node_modules)
else()
  add_test(NAME grpc_e2e
           COMMAND sh -c "echo 'node and npm are needed (scripts/install-deps.sh installs them)' >&2; exit 1")
endif()
