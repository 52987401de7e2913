# Included by the top CMakeLists.txt: validates the export golden files against the
# Kubernetes 1.27 schemas with Node (kubernetes-models@4.5.1). `npm ci` installs the
# locked packages from tests/k8s/package-lock.json as a ctest fixture, so a clean
# machine needs only node and npm (and the npm registry).
find_program(SLIPWAY_NODE node)
find_program(SLIPWAY_NPM npm)
if(SLIPWAY_NODE AND SLIPWAY_NPM)
  set(_k8s_dir ${CMAKE_SOURCE_DIR}/tests/k8s)
  add_test(NAME k8s_npm_ci
           COMMAND ${SLIPWAY_NPM} ci --no-audit --no-fund --prefer-offline
           WORKING_DIRECTORY ${_k8s_dir})
  set_tests_properties(k8s_npm_ci PROPERTIES FIXTURES_SETUP k8s_node_modules TIMEOUT 300
                       RESOURCE_LOCK k8s_node_modules)
  add_test(NAME k8s_validate_manifests
           COMMAND ${SLIPWAY_NODE} --test validate.test.mjs
           WORKING_DIRECTORY ${_k8s_dir})
  set_tests_properties(k8s_validate_manifests PROPERTIES FIXTURES_REQUIRED k8s_node_modules
                       TIMEOUT 120 RESOURCE_LOCK k8s_node_modules)
else()
  # Registered all the same, failing with the reason: a suite must not drop out of `make test`.
  add_test(NAME k8s_validate_manifests
           COMMAND sh -c "echo 'node and npm are needed (scripts/install-deps.sh installs them)' >&2; exit 1")
endif()
