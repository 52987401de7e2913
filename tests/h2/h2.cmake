# Included by the top CMakeLists.txt: HTTP/2 end to end with real clients and servers against a
# daemon started by tests/h2/run.sh: gRPC (@grpc/grpc-js as client and h2 upstream) and
# WebSockets over HTTP/2 (Node's http2 client, the `ws` server), pinned in
# tests/h2/package-lock.json. `npm ci` installs them as a ctest fixture.
if(SLIPWAY_NODE AND SLIPWAY_NPM)
  set(_h2_dir ${CMAKE_SOURCE_DIR}/tests/h2)
  add_test(NAME h2_npm_ci
           COMMAND ${SLIPWAY_NPM} ci --no-audit --no-fund --prefer-offline
           WORKING_DIRECTORY ${_h2_dir})
  set_tests_properties(h2_npm_ci PROPERTIES FIXTURES_SETUP h2_node_modules TIMEOUT 300
                       RESOURCE_LOCK h2_node_modules)
  add_test(NAME h2_e2e
           COMMAND sh ${_h2_dir}/run.sh $<TARGET_FILE:slipway> ${SLIPWAY_NODE}
           WORKING_DIRECTORY ${_h2_dir})
  set_tests_properties(h2_e2e PROPERTIES FIXTURES_REQUIRED h2_node_modules TIMEOUT 180
                       RESOURCE_LOCK h2_node_modules)
else()
  add_test(NAME h2_e2e
           COMMAND sh -c "echo 'node and npm are needed (scripts/install-deps.sh installs them)' >&2; exit 1")
endif()
