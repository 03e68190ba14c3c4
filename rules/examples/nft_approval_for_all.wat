;; setApprovalForAll(operator, true) to an operator outside a marketplace allowlist: the call
;; most NFT-drainer phishing sites ask for. Hand-written against rule ABI v1 (rules/README.md):
;; it reads the operator and the bool from calldata, so it exports scorpius_needs_calldata.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 65536))

  (func (export "scorpius_abi_version") (result i32) (i32.const 1))
  (func (export "scorpius_needs_calldata") (result i32) (i32.const 1))
  (func (export "scorpius_meta") (result i32) (i32.const 1024))
  (data (i32.const 1024) "{\"rules\": [{\"id\": \"nft-approval-for-all-unknown-operator\", \"severity\": \"high\", \"message\": \"{sender} approved an unknown operator for every NFT of {to}\", \"tags\": [\"phishing\", \"nft\"]}]}\00")

  ;; Operators trusted with approval-for-all: marketplaces' transfer conduits.
  (global $allowed_count i32 (i32.const 3))
  (data (i32.const 256) "\1e\00\49\78\3f\00\8a\00\85\19\3e\00\00\3d\00\cd\54\00\3c\71") ;; 0x1e0049783f008a0085193e00003d00cd54003c71
  (data (i32.const 276) "\00\00\00\00\00\01\11\ab\e4\6f\f8\93\f3\b2\fd\f1\f7\59\a8\a8") ;; 0x00000000000111abe46ff893f3b2fdf1f759a8a8
  (data (i32.const 296) "\f8\49\de\01\b0\80\ad\c3\a8\14\fa\be\1e\20\87\47\5c\f2\e3\54") ;; 0xf849de01b080adc3a814fabe1e2087475cf2e354

  ;; A bump allocator: the host asks once for its batch and output areas and reuses them.
  (func (export "alloc") (param $size i32) (result i32)
    (local $p i32) (local $end i32) (local $pages i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (i32.and (i32.add (local.get $size) (i32.const 7)) (i32.const -8))))
    (local.set $pages (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
        (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $p))

  ;; 1 when the 20 bytes at $a are one of the allowed operators.
  (func $allowed (param $a i32) (result i32)
    (local $e i32) (local $end i32)
    (local.set $e (i32.const 256))
    (local.set $end (i32.add (i32.const 256) (i32.mul (global.get $allowed_count) (i32.const 20))))
    (block $no
      (loop $next
        (br_if $no (i32.ge_u (local.get $e) (local.get $end)))
        (if (i32.and
              (i32.and (i64.eq (i64.load (local.get $a)) (i64.load (local.get $e)))
                       (i64.eq (i64.load offset=8 (local.get $a)) (i64.load offset=8 (local.get $e))))
              (i32.eq (i32.load offset=16 (local.get $a)) (i32.load offset=16 (local.get $e))))
          (then (return (i32.const 1))))
        (local.set $e (i32.add (local.get $e) (i32.const 20)))
        (br $next)))
    (i32.const 0))

  (func (export "eval_batch") (param $ptr i32) (param $count i32) (param $out i32) (param $cap i32) (result i32)
    (local $i i32) (local $r i32) (local $cd i32) (local $n i32) (local $m i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $r (i32.add (local.get $ptr) (i32.mul (local.get $i) (i32.const 416))))
        ;; flags bit 1: has selector; selector a22cb465 read little-endian; 4 + 32 + 32 bytes.
        (if (i32.and
              (i32.and (i32.ne (i32.and (i32.load offset=36 (local.get $r)) (i32.const 2)) (i32.const 0))
                       (i32.eq (i32.load offset=8 (local.get $r)) (i32.const 0x65b42ca2)))
              (i32.and (i32.ge_u (i32.load offset=12 (local.get $r)) (i32.const 68))
                       (i32.ne (i32.load offset=16 (local.get $r)) (i32.const 0))))
          (then
            (local.set $cd (i32.add (local.get $ptr) (i32.load offset=16 (local.get $r))))
            ;; approved == true (last byte of the second word) and operator (bytes 16..36) unknown
            (if (i32.and (i32.eq (i32.load8_u offset=67 (local.get $cd)) (i32.const 1))
                         (i32.eqz (call $allowed (i32.add (local.get $cd) (i32.const 16)))))
              (then
                (if (i32.lt_u (local.get $n) (local.get $cap))
                  (then
                    (local.set $m (i32.add (local.get $out) (i32.mul (local.get $n) (i32.const 12))))
                    (i32.store (local.get $m) (local.get $i))
                    (i32.store offset=4 (local.get $m) (i32.const 0))
                    (i32.store offset=8 (local.get $m) (i32.const 3))))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n))
)
