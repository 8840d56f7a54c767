;; The roster pre-pass's member walk over one flat JSON record, in WebAssembly: the same reading as
;; RosterWalker#at in roster-walker.ts (which stays as the reference and the fallback), about 2.5x faster than
;; the JavaScript byte loops on this machine. Compiled by scripts/build-wasm.mjs into roster-scan.wasm.ts; a
;; test checks that the committed bytes are this source's.
;;
;; Memory layout (addresses in bytes):
;;   0..255        STRING_BYTE: 1 for a byte that is string content as it is (not '"', '\', a control byte)
;;   256..511      LITERAL_BYTE: 1 for the bytes numbers, true, false and null are made of
;;   512..767      WS_BYTE: 1 for ' ', '\r' and '\t', 2 for '\n' (counted as a line)
;;   768           number of roster keys; 776.. (offset, length) of each key's bytes, up to 32 keys
;;   1536..4095    the keys' bytes
;;   4096..65535   reported values: (key index, start, end, record, record start, lines before the record)
;;                 per value, up to OUT_MAX (the last three for run(): which record of the run it is in)
;;   65536..       remembered values: SLOTS slots of (hash, key index, offset, length), open addressing
;;   ARENA..       the remembered values' bytes
;;   DATA..        the bytes being read (the caller copies them here)
(module
  (memory (export "memory") 160)
  (global $lines (export "lines") (mut i32) (i32.const 0))
  (global $nout (export "nout") (mut i32) (i32.const 0))
  (global $arenaUsed (mut i32) (i32.const 0))
  (global $remembered (mut i32) (i32.const 0))
  ;; run(): records taken, where it stopped, newlines up to there; the record being walked (for reports)
  (global $taken (export "taken") (mut i32) (i32.const 0))
  (global $runEnd (export "runEnd") (mut i32) (i32.const 0))
  (global $runLines (export "runLines") (mut i32) (i32.const 0))
  (global $recStart (mut i32) (i32.const 0))
  (global $recLines (mut i32) (i32.const 0))

  (global $OUT i32 (i32.const 4096))
  (global $OUT_MAX i32 (i32.const 2560))
  (global $TABLE i32 (i32.const 65536))
  ;; 65,536 slots of 16 bytes: 1 MiB; at most half are filled
  (global $SLOT_MASK i32 (i32.const 65535))
  (global $SLOTS_MAX i32 (i32.const 32768))
  (global $ARENA (export "ARENA") i32 (i32.const 1114112))
  (global $ARENA_SIZE i32 (i32.const 4194304))
  (global $DATA (export "DATA") i32 (i32.const 6291456))

  ;; The first byte at or after $p (before $end) that is not JSON whitespace; newlines are counted.
  (func $ws (param $p i32) (param $end i32) (result i32)
    (local $t i32)
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $t (i32.load8_u offset=512 (i32.load8_u (local.get $p))))
        (br_if $out (i32.eqz (local.get $t)))
        (global.set $lines (i32.add (global.get $lines) (i32.shr_u (local.get $t) (i32.const 1))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; The closing quote of a string whose content starts at $p; -1: not before $end, or a raw control byte.
  (func $strEnd (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (loop $next
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.load8_u (local.get $c))
        (then
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $next)))
      (if (i32.eq (local.get $c) (i32.const 0x22)) (then (return (local.get $p))))
      (if (i32.eq (local.get $c) (i32.const 0x5c))
        (then
          (local.set $p (i32.add (local.get $p) (i32.const 2)))
          (br $next)))
      ;; a control byte
      (return (i32.const -1)))
    (i32.const -1))

  ;; The end of a number, true, false or null at $p (its bytes only); -1 when empty or not ended before $end.
  (func $literalEnd (param $p i32) (param $end i32) (result i32)
    (local $i i32)
    (local.set $i (local.get $p))
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $i) (local.get $end)))
        (br_if $out (i32.eqz (i32.load8_u offset=256 (i32.load8_u (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (result i32)
      (i32.or (i32.eq (local.get $i) (local.get $p)) (i32.ge_u (local.get $i) (local.get $end)))
      (then (i32.const -1))
      (else (local.get $i))))

  ;; The end of the object or array at $p; -1 when it does not end before $end. Newlines outside strings count.
  (func $skipContainer (param $p i32) (param $end i32) (result i32)
    (local $depth i32) (local $c i32) (local $q i32)
    (loop $next
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 0x22))
        (then
          (local.set $q (call $strEnd (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
          (if (i32.lt_s (local.get $q) (i32.const 0)) (then (return (i32.const -1))))
          (local.set $p (i32.add (local.get $q) (i32.const 1)))
          (br $next)))
      (if (i32.eq (local.get $c) (i32.const 0x0a))
        (then (global.set $lines (i32.add (global.get $lines) (i32.const 1))))
        (else
          (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
            (then (local.set $depth (i32.add (local.get $depth) (i32.const 1))))
            (else
              (if (i32.or (i32.eq (local.get $c) (i32.const 0x7d)) (i32.eq (local.get $c) (i32.const 0x5d)))
                (then
                  (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))
                  (if (i32.eqz (local.get $depth)) (then (return (i32.add (local.get $p) (i32.const 1))))))))))) 
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next))
    (i32.const -1))

  ;; Whether the bytes [$a, $a + $n) and [$b, $b + $n) are the same.
  (func $same (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $i i32)
    (block $diff
      (loop $words
        (br_if $diff (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (if (i32.ne (i32.load (i32.add (local.get $a) (local.get $i))) (i32.load (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $words)))
    (loop $bytes
      (if (i32.lt_u (local.get $i) (local.get $n))
        (then
          (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i))) (i32.load8_u (i32.add (local.get $b) (local.get $i))))
            (then (return (i32.const 0))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $bytes))))
    (i32.const 1))

  ;; The index of the roster key whose bytes are [$s, $e); -1 when the key is not a roster field.
  (func $keyIndex (param $s i32) (param $e i32) (result i32)
    (local $k i32) (local $n i32) (local $d i32)
    (local.set $n (i32.load (i32.const 768)))
    (loop $next
      (if (i32.ge_u (local.get $k) (local.get $n)) (then (return (i32.const -1))))
      (local.set $d (i32.add (i32.const 776) (i32.shl (local.get $k) (i32.const 3))))
      (if (i32.eq (i32.load offset=4 (local.get $d)) (i32.sub (local.get $e) (local.get $s)))
        (then
          (if (call $same (i32.load (local.get $d)) (local.get $s) (i32.sub (local.get $e) (local.get $s)))
            (then (return (local.get $k))))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $next))
    (i32.const -1))

  ;; FNV-1a over four bytes at a time, then the last ones, seeded with the key index, then mixed.
  (func $hash (param $k i32) (param $s i32) (param $e i32) (result i32)
    (local $h i32)
    (local.set $h (i32.xor (i32.const 0x811c9dc5) (local.get $k)))
    (loop $words
      (if (i32.le_u (i32.add (local.get $s) (i32.const 4)) (local.get $e))
        (then
          (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load (local.get $s))) (i32.const 0x01000193)))
          (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 15))))
          (local.set $s (i32.add (local.get $s) (i32.const 4)))
          (br $words))))
    (loop $bytes
      (if (i32.lt_u (local.get $s) (local.get $e))
        (then
          (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $s))) (i32.const 0x01000193)))
          (local.set $s (i32.add (local.get $s) (i32.const 1)))
          (br $bytes))))
    ;; murmur3's finaliser: the slot is the low bits, which FNV alone leaves poorly mixed
    (local.set $h (i32.mul (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))) (i32.const 0x85ebca6b)))
    (local.set $h (i32.mul (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))

  ;; The slot holding value [$s, $e) of key $k, or of the empty slot where it would go (its length field 0).
  (func $slotOf (param $k i32) (param $s i32) (param $e i32) (param $h i32) (result i32)
    (local $i i32) (local $slot i32) (local $len i32)
    (local.set $len (i32.sub (local.get $e) (local.get $s)))
    (local.set $i (i32.and (local.get $h) (global.get $SLOT_MASK)))
    (loop $probe
      (local.set $slot (i32.add (global.get $TABLE) (i32.shl (local.get $i) (i32.const 4))))
      (if (i32.eqz (i32.load offset=12 (local.get $slot))) (then (return (local.get $slot))))
      (if (i32.and
            (i32.and (i32.eq (i32.load (local.get $slot)) (local.get $h)) (i32.eq (i32.load offset=4 (local.get $slot)) (local.get $k)))
            (i32.eq (i32.load offset=12 (local.get $slot)) (local.get $len)))
        (then
          (if (call $same (i32.load offset=8 (local.get $slot)) (local.get $s) (local.get $len)) (then (return (local.get $slot))))))
      (local.set $i (i32.and (i32.add (local.get $i) (i32.const 1)) (global.get $SLOT_MASK)))
      (br $probe))
    (i32.const 0))

  ;; Notes that the value [$s, $e) of key $k was dealt with: walk() reports it no more. Ignored when full.
  (func (export "remember") (param $k i32) (param $s i32) (param $e i32)
    (local $h i32) (local $slot i32) (local $len i32)
    (local.set $len (i32.sub (local.get $e) (local.get $s)))
    (if (i32.or (i32.ge_u (global.get $remembered) (global.get $SLOTS_MAX))
                (i32.gt_u (i32.add (global.get $arenaUsed) (local.get $len)) (global.get $ARENA_SIZE)))
      (then (return)))
    (local.set $h (call $hash (local.get $k) (local.get $s) (local.get $e)))
    (local.set $slot (call $slotOf (local.get $k) (local.get $s) (local.get $e) (local.get $h)))
    (if (i32.load offset=12 (local.get $slot)) (then (return)))
    (memory.copy (i32.add (global.get $ARENA) (global.get $arenaUsed)) (local.get $s) (local.get $len))
    (i32.store (local.get $slot) (local.get $h))
    (i32.store offset=4 (local.get $slot) (local.get $k))
    (i32.store offset=8 (local.get $slot) (i32.add (global.get $ARENA) (global.get $arenaUsed)))
    (i32.store offset=12 (local.get $slot) (local.get $len))
    (global.set $arenaUsed (i32.add (global.get $arenaUsed) (local.get $len)))
    (global.set $remembered (i32.add (global.get $remembered) (i32.const 1))))

  ;; Forgets every remembered value (the roster keys changed).
  (func (export "forget")
    (memory.fill (global.get $TABLE) (i32.const 0) (i32.const 1048576))
    (global.set $arenaUsed (i32.const 0))
    (global.set $remembered (i32.const 0)))

  ;; Reports value [$s, $e) of key $k unless remembered; false when the report area is full.
  (func $report (param $k i32) (param $s i32) (param $e i32) (result i32)
    (local $o i32)
    (if (i32.load offset=12 (call $slotOf (local.get $k) (local.get $s) (local.get $e) (call $hash (local.get $k) (local.get $s) (local.get $e))))
      (then (return (i32.const 1))))
    (if (i32.ge_u (global.get $nout) (global.get $OUT_MAX)) (then (return (i32.const 0))))
    (local.set $o (i32.add (global.get $OUT) (i32.mul (global.get $nout) (i32.const 24))))
    (i32.store (local.get $o) (local.get $k))
    (i32.store offset=4 (local.get $o) (local.get $s))
    (i32.store offset=8 (local.get $o) (local.get $e))
    (i32.store offset=12 (local.get $o) (global.get $taken))
    (i32.store offset=16 (local.get $o) (global.get $recStart))
    (i32.store offset=20 (local.get $o) (global.get $recLines))
    (global.set $nout (i32.add (global.get $nout) (i32.const 1)))
    (i32.const 1))

  ;; The record (an object) at $start: the address after it, or -1 when this walk does not read it (an escaped
  ;; key, an object or array under a roster key, bytes that are not JSON, a record cut by $end). The values of
  ;; roster keys met on the way (non-empty strings not remembered) are reported in order, also when -1 is
  ;; returned; `lines` counts the newlines inside the record.
  (func (export "walk") (param $start i32) (param $end i32) (result i32)
    (local $r i32)
    (global.set $nout (i32.const 0))
    (global.set $taken (i32.const 0))
    (global.set $recStart (local.get $start))
    (global.set $recLines (i32.const 0))
    (local.set $r (call $record (local.get $start) (local.get $end)))
    (if (result i32) (i32.lt_s (local.get $r) (i32.const 0)) (then (i32.const -1)) (else (local.get $r))))

  ;; Records from $start on, one after another while each is followed by ',' and the next '{' (as the
  ;; scanner's rewriteRun takes them). Returns 0 when it stopped after the last record taken (runEnd: the
  ;; address after it, which is not followed by another record), 1 when the record at runEnd is not read here
  ;; (its reports so far stay), 2 when the report area filled up before the record at runEnd (run again from
  ;; there once the reports are dealt with). `taken` records were taken; `runLines` newlines precede runEnd
  ;; (those after the last record taken, when it stopped after one, are not counted: the scanner reads them).
  (func (export "run") (param $start i32) (param $end i32) (result i32)
    (local $p i32) (local $r i32) (local $q i32) (local $rec i32) (local $mark i32)
    (global.set $nout (i32.const 0))
    (global.set $taken (i32.const 0))
    (global.set $runLines (i32.const 0))
    (local.set $p (local.get $start))
    (loop $next
      (global.set $recStart (local.get $p))
      (global.set $recLines (global.get $runLines))
      (local.set $mark (global.get $nout))
      (local.set $r (call $record (local.get $p) (local.get $end)))
      (if (i32.lt_s (local.get $r) (i32.const 0))
        (then
          (global.set $runEnd (local.get $p))
          ;; the report area is full: this record's reports go, and it is read again by the next run
          (if (i32.and (i32.eq (local.get $r) (i32.const -2)) (i32.gt_u (global.get $taken) (i32.const 0)))
            (then
              (global.set $nout (local.get $mark))
              (return (i32.const 2))))
          (return (i32.const 1))))
      (global.set $runLines (i32.add (global.get $runLines) (global.get $lines)))
      (global.set $taken (i32.add (global.get $taken) (i32.const 1)))
      ;; ",\n  {" after it: the next record
      (global.set $lines (i32.const 0))
      (local.set $q (call $ws (local.get $r) (local.get $end)))
      (if (i32.lt_u (local.get $q) (local.get $end))
        (then
          (if (i32.eq (i32.load8_u (local.get $q)) (i32.const 0x2c))
            (then
              (local.set $q (call $ws (i32.add (local.get $q) (i32.const 1)) (local.get $end)))
              (if (i32.lt_u (local.get $q) (local.get $end))
                (then
                  (if (i32.eq (i32.load8_u (local.get $q)) (i32.const 0x7b))
                    (then
                      (global.set $runLines (i32.add (global.get $runLines) (global.get $lines)))
                      (local.set $p (local.get $q))
                      (br $next)))))))))
      (global.set $runEnd (local.get $r))
      (return (i32.const 0)))
    (i32.const 0))

  ;; One record for walk() and run(): the address after it, -1 (not read here) or -2 (the report area is full).
  (func $record (param $start i32) (param $end i32) (result i32)
    (local $p i32) (local $q i32) (local $c i32) (local $k i32)
    (global.set $lines (i32.const 0))
    (local.set $p (i32.add (local.get $start) (i32.const 1)))
      (if (i32.load8_u offset=512 (i32.load8_u (local.get $p))) (then (local.set $p (call $ws (local.get $p) (local.get $end)))))
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x7d)) (then (return (i32.add (local.get $p) (i32.const 1)))))
    (loop $member
      (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x22)) (then (return (i32.const -1))))
      ;; the key: no escapes, no control bytes
      (local.set $q (i32.add (local.get $p) (i32.const 1)))
      (block $keyEnd
        (loop $keyByte
          (if (i32.ge_u (local.get $q) (local.get $end)) (then (return (i32.const -1))))
          (br_if $keyEnd (i32.eqz (i32.load8_u (i32.load8_u (local.get $q)))))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br $keyByte)))
      ;; a '"' ends the key; a '\' (an escaped key) or a control byte is not read here
      (if (i32.ne (i32.load8_u (local.get $q)) (i32.const 0x22)) (then (return (i32.const -1))))
      (local.set $k (call $keyIndex (i32.add (local.get $p) (i32.const 1)) (local.get $q)))
      (local.set $p (i32.add (local.get $q) (i32.const 1)))
      (if (i32.load8_u offset=512 (i32.load8_u (local.get $p))) (then (local.set $p (call $ws (local.get $p) (local.get $end)))))
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x3a)) (then (return (i32.const -1))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (if (i32.load8_u offset=512 (i32.load8_u (local.get $p))) (then (local.set $p (call $ws (local.get $p) (local.get $end)))))
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 0x22))
        (then
          (local.set $q (call $strEnd (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
          (if (i32.lt_s (local.get $q) (i32.const 0)) (then (return (i32.const -1))))
          (if (i32.and (i32.ge_s (local.get $k) (i32.const 0)) (i32.gt_u (local.get $q) (i32.add (local.get $p) (i32.const 1))))
            (then
              (if (i32.eqz (call $report (local.get $k) (i32.add (local.get $p) (i32.const 1)) (local.get $q)))
                (then (return (i32.const -2))))))
          (local.set $p (i32.add (local.get $q) (i32.const 1))))
        (else
          (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
            (then
              (if (i32.ge_s (local.get $k) (i32.const 0)) (then (return (i32.const -1))))
              (local.set $p (call $skipContainer (local.get $p) (local.get $end))))
            (else (local.set $p (call $literalEnd (local.get $p) (local.get $end)))))
          (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const -1))))))
      (if (i32.load8_u offset=512 (i32.load8_u (local.get $p))) (then (local.set $p (call $ws (local.get $p) (local.get $end)))))
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 0x7d)) (then (return (i32.add (local.get $p) (i32.const 1)))))
      (if (i32.ne (local.get $c) (i32.const 0x2c)) (then (return (i32.const -1))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (if (i32.load8_u offset=512 (i32.load8_u (local.get $p))) (then (local.set $p (call $ws (local.get $p) (local.get $end)))))
      (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
      (br $member))
    (i32.const -1))
)
