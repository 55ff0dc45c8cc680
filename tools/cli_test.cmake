# The msgport-dump command line: run with -DTOOL=<binary> -DWORK=<scratch dir>.
# Checks --help, a dump -> pack round trip of FORMAT.md's example, --check,
# and that bad bytes and bad text exit 1 with the offset / line named.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

function(run expect_rc)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL expect_rc)
    message(FATAL_ERROR "${ARGN}: exit ${rc}, expected ${expect_rc}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

function(expect text haystack)
  string(FIND "${haystack}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "expected to find '${text}' in:\n${haystack}")
  endif()
endfunction()

run(0 ${TOOL} --help)
expect("msgport-dump --pack" "${out}")

# FORMAT.md §8's example, written by hand, packed, dumped, packed again.
file(WRITE ${WORK}/example.txt
"version 1
map 4
  \"id\"
  12345
  \"tags\"
  array 1
    \"a\"
  \"big\"
  BIGINT 0x1
  \"self\"
  BACKREF id=0
")
run(0 ${TOOL} --pack --check -o ${WORK}/example.bin ${WORK}/example.txt)
expect("self: [Circular *1]" "${err}")
file(READ ${WORK}/example.bin hex HEX)
if(NOT hex STREQUAL "0184a26964cd3039a47461677391a161a3626967d5030001a473656c66d41000")
  message(FATAL_ERROR "packed bytes differ from FORMAT.md's example: ${hex}")
endif()
run(0 ${TOOL} --check ${WORK}/example.bin)
expect("      29 |   BACKREF id=0  # -> Object at offset 1" "${out}")
expect("# check: mp_deserialize gives:" "${out}")
file(WRITE ${WORK}/listing.txt "${out}")
run(0 ${TOOL} --pack -o ${WORK}/again.bin ${WORK}/listing.txt)
file(READ ${WORK}/again.bin hex2 HEX)
if(NOT hex2 STREQUAL hex)
  message(FATAL_ERROR "dump -> pack changed the bytes: ${hex2}")
endif()

# Bad bytes: a truncated string.
execute_process(COMMAND sh -c "printf '\\001\\331\\377abc' > '${WORK}/bad.bin'" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not write bad.bin")
endif()
run(1 ${TOOL} ${WORK}/bad.bin)
expect("offset 1: declared length 255 exceeds the 3 bytes left" "${err}")

# Bad text: line and column.
file(WRITE ${WORK}/bad.txt "version 1\nmap 1\n  \"k\"\n  bin 0g\n")
run(1 ${TOOL} --pack -o ${WORK}/bad-out.bin ${WORK}/bad.txt)
expect("line 4, column 7: '0g' is not a hex byte" "${err}")

# Valid bytes that do not decode: --check says why and exits 1.
file(WRITE ${WORK}/moved.txt "version 1\nMOVED store #0\n")
run(0 ${TOOL} --pack -o ${WORK}/moved.bin ${WORK}/moved.txt)
run(1 ${TOOL} --check ${WORK}/moved.bin)
expect("# check: mp_deserialize fails: offset 1:" "${out}")

run(2 ${TOOL} --bogus)
run(2 ${TOOL} ${WORK}/does-not-exist)
