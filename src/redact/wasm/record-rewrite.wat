;; The redaction pass's byte path for flat JSON records, in WebAssembly: the same reading and the same output as
;; ByteRewriter (byte-rewriter.ts), which stays as the reference and the fallback. A record is copied to the
;; output with only the changed values replaced; each value's outcome is looked up by its bytes in a table the
;; JavaScript side fills (the engine decides a value the first time it is met). Anything this module does not
;; decide on its own is handed back with a status saying what is needed, and the record is walked again from
;; its start once it is provided. Compiled by scripts/build-wasm.mjs into record-rewrite.wasm.ts.
;;
;; Memory layout (addresses in bytes):
;;   0..255          PLAIN: 1 for printable ASCII other than '"' and '\'
;;   256..511        WS: 1 for ' ', '\r', '\t'; 2 for '\n'
;;   512..767        HEX: 1 for a hex digit
;;   768..1023       ESC: 1 for the characters a one-character escape may name (" \ / b f n r t)
;;   1024..4095      POS: per member position, the KEYS slot of the key the last record had there (768)
;;   65536..         FIELDS: per field (16 bytes): kind, occurrences counted (committed)
;;   131072..        KEYS: 8192 slots (32 bytes): hash, root, field, key address, key length, outside ASCII
;;   393216..        SLOTS: 32768 slots (64 bytes): hash, field, key address, key length, kind, output address,
;;                   output length, roster version (-1: none), epoch, hits (committed)
;;   2490368..       HITS: this record's hits, applied when it is taken (field -(f + 1), or slot index)
;;   2555904..       SCRATCH: a replacement the caller hands in (64 KiB)
;;   2621440..       ARENA: keys' and values' bytes, replacements (12 MiB)
;;   15204352..      OUTPUT: the records written by a run (8 MiB)
;;   23592960..      DATA: the bytes being read (the caller copies them here)
(module
  (memory (export "memory") 400)

  (global $FIELDS i32 (i32.const 65536))
  (global $FIELDS_MAX i32 (i32.const 4096))
  (global $KEYS i32 (i32.const 131072))
  (global $KEY_MASK i32 (i32.const 8191))
  (global $KEYS_MAX i32 (i32.const 4096))
  (global $SLOTS i32 (i32.const 393216))
  (global $SLOT_MASK i32 (i32.const 32767))
  (global $SLOTS_MAX i32 (i32.const 16384))
  (global $HITS i32 (i32.const 2490368))
  (global $HITS_MAX i32 (i32.const 16384))
  (global $SCRATCH (export "SCRATCH") i32 (i32.const 2555904))
  (global $ARENA i32 (i32.const 2621440))
  (global $ARENA_SIZE i32 (i32.const 12582912))
  (global $OUTPUT (export "OUTPUT") i32 (i32.const 15204352))
  (global $OUTPUT_END i32 (i32.const 23592960))
  (global $DATA (export "DATA") i32 (i32.const 23592960))

  ;; Set by the caller before a run.
  (global $root (export "root") (mut i32) (i32.const 0))
  (global $ver (export "ver") (mut i32) (i32.const 0))
  (global $epoch (export "epoch") (mut i32) (i32.const 0))
  ;; The record start whose bytes the caller found to be UTF-8 (a record with bytes outside ASCII waits for it).
  (global $utf8Ok (export "utf8Ok") (mut i32) (i32.const -1))

  ;; What a run tells the caller.
  (global $taken (export "taken") (mut i32) (i32.const 0))
  (global $runEnd (export "runEnd") (mut i32) (i32.const 0))
  (global $runLines (export "runLines") (mut i32) (i32.const 0))
  (global $outEnd (export "outEnd") (mut i32) (i32.const 0))
  (global $needField (export "needField") (mut i32) (i32.const 0))
  (global $needS (export "needS") (mut i32) (i32.const 0))
  (global $needE (export "needE") (mut i32) (i32.const 0))
  (global $needAscii (export "needAscii") (mut i32) (i32.const 1))

  ;; State of the record being walked.
  (global $lines (mut i32) (i32.const 0))
  (global $nonAscii (mut i32) (i32.const 0))
  (global $out (mut i32) (i32.const 0))
  (global $nhits (mut i32) (i32.const 0))
  (global $valueEnd (mut i32) (i32.const 0))
  (global $repS (mut i32) (i32.const 0))
  (global $repE (mut i32) (i32.const 0))
  (global $keyEnd (mut i32) (i32.const 0))
  (global $need (mut i32) (i32.const 0))

  (global $posRoot (mut i32) (i32.const 0))
  (global $arenaUsed (mut i32) (i32.const 0))
  (global $keysUsed (mut i32) (i32.const 0))
  (global $slotsUsed (mut i32) (i32.const 0))

  ;; Run statuses.
  ;; 0 STOPPED: after the last record taken (runEnd), which is not followed by another record
  ;; 1 LEFT: the record at runEnd is not for this module (the caller reads it another way)
  ;; 2 PAUSED: the output area is full; take the output, run again from runEnd
  ;; 3 NEED_KEY: the key [needS, needE) of the record at runEnd is not known for this root
  ;; 4 NEED_VALUE: value [needS, needE) of field needField has no current outcome
  ;; 5 NEED_UTF8: the record [runEnd, needE) has bytes outside ASCII: is it UTF-8?
  ;; Record results: >= 0 the address after it; -1 not JSON; -2 not for this path; -3 something is needed
  ;; (see $need); -4 the output area is full.

  (func $ws (param $p i32) (param $end i32) (result i32)
    (local $t i32)
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $t (i32.load8_u offset=256 (i32.load8_u (local.get $p))))
        (br_if $out (i32.eqz (local.get $t)))
        (global.set $lines (i32.add (global.get $lines) (i32.shr_u (local.get $t) (i32.const 1))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; The closing quote of the string at $p ('"'), checking escapes and control bytes; -1: not JSON.
  (func $strScan (param $p i32) (param $end i32) (result i32)
    (local $q i32) (local $c i32) (local $d i32)
    (local.set $q (i32.add (local.get $p) (i32.const 1)))
    (loop $next
      (if (i32.ge_u (local.get $q) (local.get $end)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $q)))
      (if (i32.load8_u (local.get $c))
        (then
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br $next)))
      (if (i32.eq (local.get $c) (i32.const 0x22)) (then (return (local.get $q))))
      (if (i32.lt_u (local.get $c) (i32.const 0x20)) (then (return (i32.const -1))))
      (if (i32.eq (local.get $c) (i32.const 0x5c))
        (then
          (if (i32.ge_u (i32.add (local.get $q) (i32.const 1)) (local.get $end)) (then (return (i32.const -1))))
          (local.set $d (i32.load8_u offset=1 (local.get $q)))
          (if (i32.eq (local.get $d) (i32.const 0x75))
            (then
              (if (i32.ge_u (i32.add (local.get $q) (i32.const 5)) (local.get $end)) (then (return (i32.const -1))))
              (if (i32.eqz
                    (i32.and
                      (i32.and (i32.load8_u offset=512 (i32.load8_u offset=2 (local.get $q))) (i32.load8_u offset=512 (i32.load8_u offset=3 (local.get $q))))
                      (i32.and (i32.load8_u offset=512 (i32.load8_u offset=4 (local.get $q))) (i32.load8_u offset=512 (i32.load8_u offset=5 (local.get $q))))))
                (then (return (i32.const -1)))))
            (else
              (if (i32.eqz (i32.load8_u offset=768 (local.get $d))) (then (return (i32.const -1))))))
          (local.set $q (i32.add (local.get $q) (i32.const 2)))
          (br $next)))
      ;; a byte outside ASCII
      (global.set $nonAscii (i32.const 1))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (br $next))
    (i32.const -1))

  (func $isDigit (param $c i32) (result i32)
    (i32.lt_u (i32.sub (local.get $c) (i32.const 0x30)) (i32.const 10)))

  ;; The byte at $i, or -1 at or past $end.
  (func $at (param $i i32) (param $end i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $i) (local.get $end)) (then (i32.load8_u (local.get $i))) (else (i32.const -1))))

  (func $digits (param $i i32) (param $end i32) (result i32)
    (block $out
      (loop $next
        (br_if $out (i32.ge_u (local.get $i) (local.get $end)))
        (br_if $out (i32.eqz (i32.lt_u (i32.sub (i32.load8_u (local.get $i)) (i32.const 0x30)) (i32.const 10))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $i))

  ;; The end of a number, true, false or null at $p by the JSON grammar; -1: not JSON.
  (func $literalEnd (param $p i32) (param $end i32) (result i32)
    (local $i i32) (local $c i32)
    (local.set $c (if (result i32) (i32.lt_u (local.get $p) (local.get $end)) (then (i32.load8_u (local.get $p))) (else (i32.const -1))))
    (if (i32.eq (local.get $c) (i32.const 0x74))
      (then
        (if (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $end)) (then (return (i32.const -1))))
        (if (i32.eq (i32.load (local.get $p)) (i32.const 0x65757274)) (then (return (i32.add (local.get $p) (i32.const 4)))))
        (return (i32.const -1))))
    (if (i32.eq (local.get $c) (i32.const 0x6e))
      (then
        (if (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $end)) (then (return (i32.const -1))))
        (if (i32.eq (i32.load (local.get $p)) (i32.const 0x6c6c756e)) (then (return (i32.add (local.get $p) (i32.const 4)))))
        (return (i32.const -1))))
    (if (i32.eq (local.get $c) (i32.const 0x66))
      (then
        (if (i32.gt_u (i32.add (local.get $p) (i32.const 5)) (local.get $end)) (then (return (i32.const -1))))
        (if (i32.and (i32.eq (i32.load offset=1 (local.get $p)) (i32.const 0x65736c61)) (i32.const 1)) (then (return (i32.add (local.get $p) (i32.const 5)))))
        (return (i32.const -1))))
    (local.set $i (local.get $p))
    (if (i32.eq (local.get $c) (i32.const 0x2d))
      (then
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $c (if (result i32) (i32.lt_u (local.get $i) (local.get $end)) (then (i32.load8_u (local.get $i))) (else (i32.const -1))))))
    (if (i32.eq (local.get $c) (i32.const 0x30))
      (then
        (local.set $i (i32.add (local.get $i) (i32.const 1))))
      (else
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 0x31)) (i32.const 9))
          (then (local.set $i (call $digits (i32.add (local.get $i) (i32.const 1)) (local.get $end))))
          (else (return (i32.const -1))))))
    (local.set $c (if (result i32) (i32.lt_u (local.get $i) (local.get $end)) (then (i32.load8_u (local.get $i))) (else (i32.const -1))))
    (if (i32.eq (local.get $c) (i32.const 0x2e))
      (then
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eqz (i32.lt_u (i32.sub (if (result i32) (i32.lt_u (local.get $i) (local.get $end)) (then (i32.load8_u (local.get $i))) (else (i32.const -1))) (i32.const 0x30)) (i32.const 10))) (then (return (i32.const -1))))
        (local.set $i (call $digits (local.get $i) (local.get $end)))
        (local.set $c (if (result i32) (i32.lt_u (local.get $i) (local.get $end)) (then (i32.load8_u (local.get $i))) (else (i32.const -1))))))
    (if (i32.or (i32.eq (local.get $c) (i32.const 0x65)) (i32.eq (local.get $c) (i32.const 0x45)))
      (then
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $c (if (result i32) (i32.lt_u (local.get $i) (local.get $end)) (then (i32.load8_u (local.get $i))) (else (i32.const -1))))
        (if (i32.or (i32.eq (local.get $c) (i32.const 0x2b)) (i32.eq (local.get $c) (i32.const 0x2d)))
          (then (local.set $i (i32.add (local.get $i) (i32.const 1)))))
        (if (i32.eqz (i32.lt_u (i32.sub (if (result i32) (i32.lt_u (local.get $i) (local.get $end)) (then (i32.load8_u (local.get $i))) (else (i32.const -1))) (i32.const 0x30)) (i32.const 10))) (then (return (i32.const -1))))
        (local.set $i (call $digits (local.get $i) (local.get $end)))
        (local.set $c (if (result i32) (i32.lt_u (local.get $i) (local.get $end)) (then (i32.load8_u (local.get $i))) (else (i32.const -1))))))
    ;; a digit right after a leading zero ("01") is not JSON
    (if (i32.lt_u (i32.sub (local.get $c) (i32.const 0x30)) (i32.const 10)) (then (return (i32.const -1))))
    (local.get $i))

  ;; The end of any value at $p (a dropped member); -1: not JSON.
  (func $skipValue (param $p i32) (param $end i32) (result i32)
    (local $c i32) (local $depth i32) (local $i i32) (local $q i32)
    (local.set $c (if (result i32) (i32.lt_u (local.get $p) (local.get $end)) (then (i32.load8_u (local.get $p))) (else (i32.const -1))))
    (if (i32.eq (local.get $c) (i32.const 0x22))
      (then
        (local.set $q (call $strScan (local.get $p) (local.get $end)))
        (if (i32.lt_s (local.get $q) (i32.const 0)) (then (return (i32.const -1))))
        (return (i32.add (local.get $q) (i32.const 1)))))
    (if (i32.and (i32.ne (local.get $c) (i32.const 0x7b)) (i32.ne (local.get $c) (i32.const 0x5b)))
      (then (return (call $literalEnd (local.get $p) (local.get $end)))))
    (local.set $i (local.get $p))
    (loop $next
      (if (i32.ge_u (local.get $i) (local.get $end)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $i)))
      (if (i32.eq (local.get $c) (i32.const 0x22))
        (then
          (local.set $q (call $strScan (local.get $i) (local.get $end)))
          (if (i32.lt_s (local.get $q) (i32.const 0)) (then (return (i32.const -1))))
          (local.set $i (i32.add (local.get $q) (i32.const 1)))
          (br $next)))
      (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
        (then (local.set $depth (i32.add (local.get $depth) (i32.const 1))))
        (else
          (if (i32.or (i32.eq (local.get $c) (i32.const 0x7d)) (i32.eq (local.get $c) (i32.const 0x5d)))
            (then (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (if (i32.eqz (local.get $depth)) (then (return (local.get $i))))
      (br $next))
    (i32.const -1))

  (func $same (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $i i32)
    (block $words
      (loop $w
        (br_if $words (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
        (if (i32.ne (i32.load (i32.add (local.get $a) (local.get $i))) (i32.load (i32.add (local.get $b) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $w)))
    (loop $bytes
      (if (i32.lt_u (local.get $i) (local.get $n))
        (then
          (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i))) (i32.load8_u (i32.add (local.get $b) (local.get $i))))
            (then (return (i32.const 0))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $bytes))))
    (i32.const 1))

  (func $hash (param $seed i32) (param $s i32) (param $e i32) (result i32)
    (local $h i32)
    (local.set $h (i32.xor (i32.const 0x811c9dc5) (i32.mul (local.get $seed) (i32.const 0x9e3779b1))))
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
    (local.set $h (i32.mul (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))) (i32.const 0x85ebca6b)))
    (local.set $h (i32.mul (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))

  ;; The KEYS slot for key [$s, $e) under the current root: its own, or the empty one where it would go.
  (func $keySlot (param $s i32) (param $e i32) (param $h i32) (result i32)
    (local $i i32) (local $k i32)
    (local.set $i (i32.and (local.get $h) (global.get $KEY_MASK)))
    (loop $probe
      (local.set $k (i32.add (global.get $KEYS) (i32.shl (local.get $i) (i32.const 5))))
      (if (i32.eqz (i32.load offset=16 (local.get $k))) (then (return (local.get $k))))
      (if (i32.and
            (i32.and (i32.eq (i32.load (local.get $k)) (local.get $h)) (i32.eq (i32.load offset=4 (local.get $k)) (global.get $root)))
            (i32.eq (i32.load offset=16 (local.get $k)) (i32.sub (local.get $e) (local.get $s))))
        (then
          (if (call $same (i32.load offset=12 (local.get $k)) (local.get $s) (i32.sub (local.get $e) (local.get $s)))
            (then (return (local.get $k))))))
      (local.set $i (i32.and (i32.add (local.get $i) (i32.const 1)) (global.get $KEY_MASK)))
      (br $probe))
    (i32.const 0))

  ;; The SLOTS slot for value [$s, $e) of field $f: its own, or the empty one where it would go.
  (func $valueSlot (param $f i32) (param $s i32) (param $e i32) (param $h i32) (result i32)
    (local $i i32) (local $k i32) (local $n i32)
    (local.set $n (i32.sub (local.get $e) (local.get $s)))
    (local.set $i (i32.and (local.get $h) (global.get $SLOT_MASK)))
    (loop $probe
      (local.set $k (i32.add (global.get $SLOTS) (i32.shl (local.get $i) (i32.const 6))))
      (if (i32.eqz (i32.load offset=12 (local.get $k))) (then (return (local.get $k))))
      (if (i32.and
            (i32.and (i32.eq (i32.load (local.get $k)) (local.get $h)) (i32.eq (i32.load offset=4 (local.get $k)) (local.get $f)))
            (i32.eq (i32.load offset=12 (local.get $k)) (local.get $n)))
        (then
          (if (call $same (i32.load offset=8 (local.get $k)) (local.get $s) (local.get $n)) (then (return (local.get $k))))))
      (local.set $i (i32.and (i32.add (local.get $i) (i32.const 1)) (global.get $SLOT_MASK)))
      (br $probe))
    (i32.const 0))

  ;; Copies [$s, $e) to the output; false when the output area is full.
  (func $emit (param $s i32) (param $e i32) (result i32)
    (local $n i32)
    (local.set $n (i32.sub (local.get $e) (local.get $s)))
    (if (i32.gt_u (i32.add (global.get $out) (local.get $n)) (global.get $OUTPUT_END)) (then (return (i32.const 0))))
    (memory.copy (global.get $out) (local.get $s) (local.get $n))
    (global.set $out (i32.add (global.get $out) (local.get $n)))
    (i32.const 1))

  (func $emitByte (param $b i32) (result i32)
    (if (i32.ge_u (global.get $out) (global.get $OUTPUT_END)) (then (return (i32.const 0))))
    (i32.store8 (global.get $out) (local.get $b))
    (global.set $out (i32.add (global.get $out) (i32.const 1)))
    (i32.const 1))

  (func $hit (param $v i32) (result i32)
    (if (i32.ge_u (global.get $nhits) (global.get $HITS_MAX)) (then (return (i32.const 0))))
    (i32.store (i32.add (global.get $HITS) (i32.shl (global.get $nhits) (i32.const 2))) (local.get $v))
    (global.set $nhits (i32.add (global.get $nhits) (i32.const 1)))
    (i32.const 1))

  ;; The member value at $p of field $f: 0 same, 1 replaced (repS/repE), 2 dropped, with valueEnd set; or a
  ;; record result (-1, -2, -3).
  (func $value (param $p i32) (param $end i32) (param $f i32) (result i32)
    (local $kind i32) (local $c i32) (local $e i32) (local $q i32) (local $slot i32)
    (local.set $kind (i32.load (i32.add (global.get $FIELDS) (i32.shl (local.get $f) (i32.const 4)))))
    (local.set $c (if (result i32) (i32.lt_u (local.get $p) (local.get $end)) (then (i32.load8_u (local.get $p))) (else (i32.const -1))))
    ;; kind 1: the member is dropped, whatever its value
    (if (i32.eq (local.get $kind) (i32.const 1))
      (then
        (local.set $e (call $skipValue (local.get $p) (local.get $end)))
        (if (i32.lt_s (local.get $e) (i32.const 0)) (then (return (i32.const -1))))
        (if (i32.eqz (call $hit (i32.sub (i32.const -1) (local.get $f)))) (then (return (i32.const -2))))
        (global.set $valueEnd (local.get $e))
        (return (i32.const 2))))
    (if (i32.eq (local.get $c) (i32.const 0x22))
      (then
        (local.set $q (call $strScan (local.get $p) (local.get $end)))
        (if (i32.lt_s (local.get $q) (i32.const 0)) (then (return (i32.const -1))))
        (local.set $e (i32.add (local.get $q) (i32.const 1)))
        ;; kind 2: kept as it is, not free text
        (if (i32.eq (local.get $kind) (i32.const 2))
          (then
            (if (i32.eqz (call $hit (i32.sub (i32.const -1) (local.get $f)))) (then (return (i32.const -2))))
            (global.set $valueEnd (local.get $e))
            (return (i32.const 0)))))
      (else
        (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
          (then (return (i32.const -2))))
        (local.set $e (call $literalEnd (local.get $p) (local.get $end)))
        (if (i32.lt_s (local.get $e) (i32.const 0)) (then (return (i32.const -1))))
        ;; kinds 2 and 3: a kept field's number, true, false or null
        (if (i32.or (i32.eq (local.get $kind) (i32.const 2)) (i32.eq (local.get $kind) (i32.const 3)))
          (then
            (if (i32.eqz (call $hit (i32.sub (i32.const -1) (local.get $f)))) (then (return (i32.const -2))))
            (global.set $valueEnd (local.get $e))
            (return (i32.const 0))))))
    (global.set $valueEnd (local.get $e))
    ;; Remembered outcomes: the slot must be of this roster version (when it depends on the roster) and epoch.
    (local.set $slot (call $valueSlot (local.get $f) (local.get $p) (local.get $e) (call $hash (local.get $f) (local.get $p) (local.get $e))))
    (if (i32.and
          (i32.ne (i32.load offset=12 (local.get $slot)) (i32.const 0))
          (i32.and
            (i32.or (i32.eq (i32.load offset=28 (local.get $slot)) (i32.const -1)) (i32.eq (i32.load offset=28 (local.get $slot)) (global.get $ver)))
            (i32.eq (i32.load offset=32 (local.get $slot)) (global.get $epoch))))
      (then
        (if (i32.eqz (call $hit (i32.shr_u (i32.sub (local.get $slot) (global.get $SLOTS)) (i32.const 6)))) (then (return (i32.const -2))))
        (global.set $repS (i32.load offset=20 (local.get $slot)))
        (global.set $repE (i32.add (global.get $repS) (i32.load offset=24 (local.get $slot))))
        (return (i32.load offset=16 (local.get $slot)))))
    (global.set $need (i32.const 4))
    (global.set $needField (local.get $f))
    (global.set $needS (local.get $p))
    (global.set $needE (local.get $e))
    (global.set $needAscii (i32.eqz (global.get $nonAscii)))
    (i32.const -3))

  ;; The field of the member key at $p ('"'), keyEnd set; or a record result (-1 not JSON, -2 escaped, -3 unknown).
  (func $memberKey (param $p i32) (param $end i32) (param $idx i32) (result i32)
    (local $q i32) (local $c i32) (local $k i32) (local $len i32) (local $pos i32)
    ;; Records repeat their layout: first, the key the last record had at this position.
    (local.set $pos (i32.add (i32.const 1024) (i32.shl (local.get $idx) (i32.const 2))))
    (if (i32.lt_u (local.get $idx) (i32.const 768))
      (then
        (local.set $k (i32.load (local.get $pos)))
        (if (local.get $k)
          (then
            (local.set $len (i32.load offset=16 (local.get $k)))
            (local.set $q (i32.add (i32.add (local.get $p) (i32.const 1)) (local.get $len)))
            (if (i32.lt_u (local.get $q) (local.get $end))
              (then
                (if (i32.eq (i32.load8_u (local.get $q)) (i32.const 0x22))
                  (then
                    (if (call $same (i32.load offset=12 (local.get $k)) (i32.add (local.get $p) (i32.const 1)) (local.get $len))
                      (then
                        (if (i32.load offset=20 (local.get $k)) (then (global.set $nonAscii (i32.const 1))))
                        (global.set $keyEnd (i32.add (local.get $q) (i32.const 1)))
                        (return (i32.load offset=8 (local.get $k))))))))))))
      (else (local.set $pos (i32.const 0))))
    (local.set $q (i32.add (local.get $p) (i32.const 1)))
    (loop $next
      (if (i32.ge_u (local.get $q) (local.get $end)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $q)))
      (if (i32.load8_u (local.get $c))
        (then
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br $next)))
      (if (i32.ne (local.get $c) (i32.const 0x22))
        (then
          (if (i32.eq (local.get $c) (i32.const 0x5c)) (then (return (i32.const -2))))
          (if (i32.lt_u (local.get $c) (i32.const 0x20)) (then (return (i32.const -1))))
          (global.set $nonAscii (i32.const 1))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br $next))))
    (global.set $keyEnd (i32.add (local.get $q) (i32.const 1)))
    (local.set $k (call $keySlot (i32.add (local.get $p) (i32.const 1)) (local.get $q) (call $hash (global.get $root) (i32.add (local.get $p) (i32.const 1)) (local.get $q))))
    (if (i32.load offset=16 (local.get $k))
      (then
        (if (local.get $pos) (then (i32.store (local.get $pos) (local.get $k))))
        (return (i32.load offset=8 (local.get $k)))))
    (global.set $need (i32.const 3))
    (global.set $needS (i32.add (local.get $p) (i32.const 1)))
    (global.set $needE (local.get $q))
    (global.set $needAscii (i32.eqz (global.get $nonAscii)))
    (i32.const -3))

  ;; The record (an object) at $open written to the output as ByteRewriter#object writes it: unchanged runs of
  ;; the source, replaced values, dropped members with their commas. Returns a record result.
  (func $record (param $open i32) (param $end i32) (result i32)
    (local $p i32) (local $elStart i32) (local $segS i32) (local $segE i32) (local $first i32)
    (local $commaPos i32) (local $f i32) (local $vs i32) (local $r i32) (local $after i32) (local $c i32) (local $idx i32)
    (global.set $lines (i32.const 0))
    (global.set $nonAscii (i32.const 0))
    (global.set $nhits (i32.const 0))
    (local.set $p (i32.add (local.get $open) (i32.const 1)))
    (local.set $elStart (local.get $p))
    (if (i32.load8_u offset=256 (i32.load8_u (local.get $p))) (then (local.set $p (call $ws (local.get $p) (local.get $end)))))
    (if (i32.ge_u (local.get $p) (local.get $end)) (then (return (i32.const -1))))
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x7d))
      (then
        (if (i32.eqz (call $emit (local.get $open) (i32.add (local.get $p) (i32.const 1)))) (then (return (i32.const -4))))
        (return (i32.add (local.get $p) (i32.const 1)))))
    (local.set $segS (local.get $open))
    (local.set $segE (local.get $elStart))
    (local.set $first (i32.const 1))
    (local.set $commaPos (i32.const -1))
    (loop $member
      (if (i32.ne (if (result i32) (i32.lt_u (local.get $p) (local.get $end)) (then (i32.load8_u (local.get $p))) (else (i32.const -1))) (i32.const 0x22)) (then (return (i32.const -1))))
      (local.set $f (call $memberKey (local.get $p) (local.get $end) (local.get $idx)))
      (local.set $idx (i32.add (local.get $idx) (i32.const 1)))
      (if (i32.lt_s (local.get $f) (i32.const 0)) (then (return (local.get $f))))
      (local.set $p (global.get $keyEnd)) (if (i32.load8_u offset=256 (i32.load8_u (local.get $p))) (then (local.set $p (call $ws (local.get $p) (local.get $end)))))
      (if (i32.ne (if (result i32) (i32.lt_u (local.get $p) (local.get $end)) (then (i32.load8_u (local.get $p))) (else (i32.const -1))) (i32.const 0x3a)) (then (return (i32.const -1))))
      (local.set $p (i32.add (local.get $p) (i32.const 1))) (if (i32.load8_u offset=256 (i32.load8_u (local.get $p))) (then (local.set $p (call $ws (local.get $p) (local.get $end)))))
      (local.set $vs (local.get $p))
      (local.set $r (call $value (local.get $p) (local.get $end) (local.get $f)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (local.set $after (global.get $valueEnd))
      (if (i32.ne (local.get $r) (i32.const 2))
        (then
          (if (i32.eqz (local.get $first))
            (then
              (if (i32.eq (local.get $commaPos) (local.get $segE))
                (then (local.set $segE (i32.add (local.get $segE) (i32.const 1))))
                (else
                  (if (i32.eqz (call $emit (local.get $segS) (local.get $segE))) (then (return (i32.const -4))))
                  (if (i32.eqz (call $emitByte (i32.const 0x2c))) (then (return (i32.const -4))))
                  (local.set $segS (local.get $elStart))
                  (local.set $segE (local.get $elStart))))))
          (if (i32.eq (local.get $elStart) (local.get $segE))
            (then (local.set $segE (local.get $vs)))
            (else
              (if (i32.eqz (call $emit (local.get $segS) (local.get $segE))) (then (return (i32.const -4))))
              (local.set $segS (local.get $elStart))
              (local.set $segE (local.get $vs))))
          (if (i32.eqz (local.get $r))
            (then (local.set $segE (local.get $after)))
            (else
              (if (i32.eqz (call $emit (local.get $segS) (local.get $segE))) (then (return (i32.const -4))))
              (if (i32.eqz (call $emit (global.get $repS) (global.get $repE))) (then (return (i32.const -4))))
              (local.set $segS (local.get $after))
              (local.set $segE (local.get $after))))
          (local.set $first (i32.const 0))))
      (local.set $p (local.get $after)) (if (i32.load8_u offset=256 (i32.load8_u (local.get $p))) (then (local.set $p (call $ws (local.get $p) (local.get $end)))))
      (local.set $c (if (result i32) (i32.lt_u (local.get $p) (local.get $end)) (then (i32.load8_u (local.get $p))) (else (i32.const -1))))
      (if (i32.eq (local.get $c) (i32.const 0x2c))
        (then
          (local.set $commaPos (local.get $p))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (local.set $elStart (local.get $p))
          (if (i32.load8_u offset=256 (i32.load8_u (local.get $p))) (then (local.set $p (call $ws (local.get $p) (local.get $end)))))
          (br $member)))
      (if (i32.eq (local.get $c) (i32.const 0x7d))
        (then
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (if (i32.eq (local.get $after) (local.get $segE))
            (then
              (if (i32.eqz (call $emit (local.get $segS) (local.get $p))) (then (return (i32.const -4)))))
            (else
              (if (i32.eqz (call $emit (local.get $segS) (local.get $segE))) (then (return (i32.const -4))))
              (if (i32.eqz (call $emit (local.get $after) (local.get $p))) (then (return (i32.const -4))))))
          (return (local.get $p))))
      (return (i32.const -1)))
    (i32.const -1))

  ;; Applies the hits of the record just taken.
  (func $commit
    (local $i i32) (local $v i32) (local $a i32)
    (loop $next
      (if (i32.lt_u (local.get $i) (global.get $nhits))
        (then
          (local.set $v (i32.load (i32.add (global.get $HITS) (i32.shl (local.get $i) (i32.const 2)))))
          (if (i32.lt_s (local.get $v) (i32.const 0))
            (then (local.set $a (i32.add (global.get $FIELDS) (i32.add (i32.shl (i32.sub (i32.const -1) (local.get $v)) (i32.const 4)) (i32.const 4)))))
            (else (local.set $a (i32.add (global.get $SLOTS) (i32.add (i32.shl (local.get $v) (i32.const 6)) (i32.const 36))))))
          (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next))))
    (global.set $nhits (i32.const 0)))

  ;; Records from $start on, one after another while each is followed by ',' and the next '{', written to the
  ;; output area joined by ",\n" (from its start; outEnd: where the output ends). See the statuses above.
  (func (export "run") (param $start i32) (param $end i32) (result i32)
    (local $p i32) (local $r i32) (local $q i32) (local $mark i32) (local $sepLines i32)
    (global.set $taken (i32.const 0))
    (global.set $runLines (i32.const 0))
    (if (i32.ne (global.get $posRoot) (global.get $root))
      (then
        (memory.fill (i32.const 1024) (i32.const 0) (i32.const 3072))
        (global.set $posRoot (global.get $root))))
    (global.set $out (global.get $OUTPUT))
    (global.set $outEnd (global.get $OUTPUT))
    (local.set $p (local.get $start))
    (loop $next
      (global.set $runEnd (local.get $p))
      (local.set $mark (global.get $out))
      ;; the separator before a record after the first
      (if (global.get $taken)
        (then
          (if (i32.eqz (call $emitByte (i32.const 0x2c))) (then (global.set $out (local.get $mark)) (return (i32.const 2))))
          (if (i32.eqz (call $emitByte (i32.const 0x0a))) (then (global.set $out (local.get $mark)) (return (i32.const 2))))))
      (global.set $need (i32.const 0))
      (local.set $r (call $record (local.get $p) (local.get $end)))
      (if (i32.lt_s (local.get $r) (i32.const 0))
        (then
          (global.set $out (local.get $mark))
          (if (i32.eq (local.get $r) (i32.const -4))
            (then (return (select (i32.const 2) (i32.const 1) (global.get $taken)))))
          (if (i32.eq (local.get $r) (i32.const -3)) (then (return (global.get $need))))
          (return (i32.const 1))))
      ;; bytes outside ASCII: taken only once the caller has found the record to be UTF-8
      (if (i32.and (global.get $nonAscii) (i32.ne (global.get $utf8Ok) (local.get $p)))
        (then
          (global.set $out (local.get $mark))
          (global.set $needE (local.get $r))
          (return (i32.const 5))))
      (call $commit)
      (global.set $outEnd (global.get $out))
      (global.set $taken (i32.add (global.get $taken) (i32.const 1)))
      (global.set $runLines (i32.add (global.get $runLines) (global.get $lines)))
      ;; ",\n  {" after it: the next record
      (global.set $lines (i32.const 0))
      (local.set $q (call $ws (local.get $r) (local.get $end)))
      (if (i32.eq (if (result i32) (i32.lt_u (local.get $q) (local.get $end)) (then (i32.load8_u (local.get $q))) (else (i32.const -1))) (i32.const 0x2c))
        (then
          (local.set $q (call $ws (i32.add (local.get $q) (i32.const 1)) (local.get $end)))
          (if (i32.eq (if (result i32) (i32.lt_u (local.get $q) (local.get $end)) (then (i32.load8_u (local.get $q))) (else (i32.const -1))) (i32.const 0x7b))
            (then
              (global.set $runLines (i32.add (global.get $runLines) (global.get $lines)))
              (local.set $p (local.get $q))
              (br $next)))))
      (global.set $runEnd (local.get $r))
      (return (i32.const 0)))
    (i32.const 0))

  (func $outsideAscii (param $s i32) (param $e i32) (result i32)
    (loop $next
      (if (i32.lt_u (local.get $s) (local.get $e))
        (then
          (if (i32.ge_u (i32.load8_u (local.get $s)) (i32.const 0x80)) (then (return (i32.const 1))))
          (local.set $s (i32.add (local.get $s) (i32.const 1)))
          (br $next))))
    (i32.const 0))

  ;; Registers key [$s, $e) of the current root as field $f; false when full.
  (func (export "addKey") (param $s i32) (param $e i32) (param $f i32) (result i32)
    (local $k i32) (local $n i32)
    (local.set $n (i32.sub (local.get $e) (local.get $s)))
    (if (i32.or (i32.eqz (local.get $n)) (i32.ge_u (global.get $keysUsed) (global.get $KEYS_MAX))) (then (return (i32.const 0))))
    (if (i32.gt_u (i32.add (global.get $arenaUsed) (local.get $n)) (global.get $ARENA_SIZE)) (then (return (i32.const 0))))
    (local.set $k (call $keySlot (local.get $s) (local.get $e) (call $hash (global.get $root) (local.get $s) (local.get $e))))
    (if (i32.eqz (i32.load offset=16 (local.get $k)))
      (then
        (memory.copy (i32.add (global.get $ARENA) (global.get $arenaUsed)) (local.get $s) (local.get $n))
        (i32.store (local.get $k) (call $hash (global.get $root) (local.get $s) (local.get $e)))
        (i32.store offset=4 (local.get $k) (global.get $root))
        (i32.store offset=12 (local.get $k) (i32.add (global.get $ARENA) (global.get $arenaUsed)))
        (i32.store offset=16 (local.get $k) (local.get $n))
        (i32.store offset=20 (local.get $k) (call $outsideAscii (local.get $s) (local.get $e)))
        (global.set $arenaUsed (i32.add (global.get $arenaUsed) (local.get $n)))
        (global.set $keysUsed (i32.add (global.get $keysUsed) (i32.const 1)))))
    (i32.store offset=8 (local.get $k) (local.get $f))
    (i32.const 1))

  ;; Field $f's kind: 1 dropped, 2 kept (not free text), 3 kept free text (strings looked up), 4 looked up.
  (func (export "setField") (param $f i32) (param $kind i32) (result i32)
    (if (i32.ge_u (local.get $f) (global.get $FIELDS_MAX)) (then (return (i32.const 0))))
    (i32.store (i32.add (global.get $FIELDS) (i32.shl (local.get $f) (i32.const 4))) (local.get $kind))
    (i32.const 1))

  ;; Field $f's occurrences counted since the last call (for kinds 1-3), reset.
  (func (export "takeFieldCount") (param $f i32) (result i32)
    (local $a i32) (local $n i32)
    (local.set $a (i32.add (global.get $FIELDS) (i32.add (i32.shl (local.get $f) (i32.const 4)) (i32.const 4))))
    (local.set $n (i32.load (local.get $a)))
    (i32.store (local.get $a) (i32.const 0))
    (local.get $n))

  ;; The index of the slot holding value [$s, $e) of field $f, or -1.
  (func (export "findSlot") (param $f i32) (param $s i32) (param $e i32) (result i32)
    (local $k i32)
    (local.set $k (call $valueSlot (local.get $f) (local.get $s) (local.get $e) (call $hash (local.get $f) (local.get $s) (local.get $e))))
    (if (result i32) (i32.load offset=12 (local.get $k))
      (then (i32.shr_u (i32.sub (local.get $k) (global.get $SLOTS)) (i32.const 6)))
      (else (i32.const -1))))

  ;; Slot $i's hits since the last call, reset.
  (func (export "takeHits") (param $i i32) (result i32)
    (local $a i32) (local $n i32)
    (local.set $a (i32.add (global.get $SLOTS) (i32.add (i32.shl (local.get $i) (i32.const 6)) (i32.const 36))))
    (local.set $n (i32.load (local.get $a)))
    (i32.store (local.get $a) (i32.const 0))
    (local.get $n))

  ;; Remembers the outcome of value [$s, $e) of field $f: $kind (0 same, 1 replaced by the $n bytes at SCRATCH,
  ;; 2 dropped), decided at roster version $v (-1: the roster plays no part) in the current epoch. Returns the
  ;; slot index, or -1 when the table or the arena is full.
  (func (export "settle") (param $f i32) (param $s i32) (param $e i32) (param $kind i32) (param $n i32) (param $v i32) (result i32)
    (local $k i32) (local $len i32) (local $h i32)
    (local.set $len (i32.sub (local.get $e) (local.get $s)))
    (local.set $h (call $hash (local.get $f) (local.get $s) (local.get $e)))
    (local.set $k (call $valueSlot (local.get $f) (local.get $s) (local.get $e) (local.get $h)))
    (if (i32.gt_u (i32.add (i32.add (global.get $arenaUsed) (local.get $len)) (local.get $n)) (global.get $ARENA_SIZE)) (then (return (i32.const -1))))
    (if (i32.eqz (i32.load offset=12 (local.get $k)))
      (then
        (if (i32.ge_u (global.get $slotsUsed) (global.get $SLOTS_MAX)) (then (return (i32.const -1))))
        (memory.copy (i32.add (global.get $ARENA) (global.get $arenaUsed)) (local.get $s) (local.get $len))
        (i32.store (local.get $k) (local.get $h))
        (i32.store offset=4 (local.get $k) (local.get $f))
        (i32.store offset=8 (local.get $k) (i32.add (global.get $ARENA) (global.get $arenaUsed)))
        (i32.store offset=12 (local.get $k) (local.get $len))
        (i32.store offset=36 (local.get $k) (i32.const 0))
        (global.set $arenaUsed (i32.add (global.get $arenaUsed) (local.get $len)))
        (global.set $slotsUsed (i32.add (global.get $slotsUsed) (i32.const 1)))))
    (memory.copy (i32.add (global.get $ARENA) (global.get $arenaUsed)) (global.get $SCRATCH) (local.get $n))
    (i32.store offset=16 (local.get $k) (local.get $kind))
    (i32.store offset=20 (local.get $k) (i32.add (global.get $ARENA) (global.get $arenaUsed)))
    (i32.store offset=24 (local.get $k) (local.get $n))
    (i32.store offset=28 (local.get $k) (local.get $v))
    (i32.store offset=32 (local.get $k) (global.get $epoch))
    (global.set $arenaUsed (i32.add (global.get $arenaUsed) (local.get $n)))
    (i32.shr_u (i32.sub (local.get $k) (global.get $SLOTS)) (i32.const 6)))

  ;; Forgets every key, field and remembered value (the caller has taken the counts first).
  (func (export "reset")
    (memory.fill (global.get $FIELDS) (i32.const 0) (i32.const 65536))
    (memory.fill (global.get $KEYS) (i32.const 0) (i32.const 262144))
    (memory.fill (global.get $SLOTS) (i32.const 0) (i32.const 2097152))
    (memory.fill (i32.const 1024) (i32.const 0) (i32.const 3072))
    (global.set $posRoot (i32.const 0))
    (global.set $arenaUsed (i32.const 0))
    (global.set $keysUsed (i32.const 0))
    (global.set $slotsUsed (i32.const 0)))
)
