# OPSORCH_SANITIZE=address,undefined (CI's ASan+UBSan run) or thread.
if(OPSORCH_SANITIZE)
  add_compile_options(-fsanitize=${OPSORCH_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${OPSORCH_SANITIZE})
endif()
if(OPSORCH_SANITIZE)
  # Tests that measure memory (RSS) skip themselves under a sanitizer, whose shadow memory and
  # quarantine make such figures meaningless.
  add_compile_definitions(OPSORCH_SANITIZED=1)
endif()
