# Warnings and sanitizers, applied per target (never as global flags).
function(omt_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
  if(OMT_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(OMT_SANITIZE)
  # Applied to every target in the tree (tests and dependencies' templates must agree on instrumentation).
  add_compile_options(-fsanitize=${OMT_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${OMT_SANITIZE})
endif()
