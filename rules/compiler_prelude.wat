;; Shared functions of every module the declarative compiler emits (a str.format template:
;; {heap}, {abi}, {mul64}, {mul32}, {severities}, {value_eth} are filled in by
;; operators/rules/compiler.py).
  (type $pred (func (param i32) (result i32)))
  (global $heap (mut i32) (i32.const {heap}))
  (func (export "scorpius_abi_version") (result i32) (i32.const {abi}))
  (func (export "alloc") (param $size i32) (result i32)
    (local $p i32) (local $end i32) (local $pages i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (i32.and (i32.add (local.get $size) (i32.const 7)) (i32.const -8))))
    (if (i32.lt_u (local.get $end) (local.get $p)) (then (return (i32.const 0))))
    (local.set $pages (i32.shr_u (i32.add (local.get $end) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
        (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $p))
  ;; Sign of (u256 at $p) - (c3:c2:c1:c0): -1, 0 or 1.
  (func $u256_cmp (param $p i32) (param $c0 i64) (param $c1 i64) (param $c2 i64) (param $c3 i64) (result i32)
    (local $a i64)
    (local.set $a (i64.load offset=24 (local.get $p)))
    (if (i64.ne (local.get $a) (local.get $c3)) (then (return (select (i32.const 1) (i32.const -1) (i64.gt_u (local.get $a) (local.get $c3))))))
    (local.set $a (i64.load offset=16 (local.get $p)))
    (if (i64.ne (local.get $a) (local.get $c2)) (then (return (select (i32.const 1) (i32.const -1) (i64.gt_u (local.get $a) (local.get $c2))))))
    (local.set $a (i64.load offset=8 (local.get $p)))
    (if (i64.ne (local.get $a) (local.get $c1)) (then (return (select (i32.const 1) (i32.const -1) (i64.gt_u (local.get $a) (local.get $c1))))))
    (local.set $a (i64.load (local.get $p)))
    (if (i64.ne (local.get $a) (local.get $c0)) (then (return (select (i32.const 1) (i32.const -1) (i64.gt_u (local.get $a) (local.get $c0))))))
    (i32.const 0))
  ;; Entry of the 20-byte key at $key in an open-addressing table, or 0.
  (func $lookup20 (param $table i32) (param $shift i64) (param $mask i32) (param $key i32) (result i32)
    (local $k0 i64) (local $k1 i64) (local $k2 i32) (local $slot i32) (local $e i32)
    (local.set $k0 (i64.load (local.get $key)))
    (local.set $k1 (i64.load offset=8 (local.get $key)))
    (local.set $k2 (i32.load offset=16 (local.get $key)))
    (local.set $slot (i32.wrap_i64 (i64.shr_u (i64.mul (i64.load offset=12 (local.get $key)) (i64.const {mul64})) (local.get $shift))))
    (loop $probe
      (local.set $e (i32.add (local.get $table) (i32.shl (local.get $slot) (i32.const 5))))
      (if (i32.eqz (i32.load offset=24 (local.get $e))) (then (return (i32.const 0))))
      (if (i32.and (i32.and (i64.eq (i64.load (local.get $e)) (local.get $k0)) (i64.eq (i64.load offset=8 (local.get $e)) (local.get $k1))) (i32.eq (i32.load offset=16 (local.get $e)) (local.get $k2)))
        (then (return (local.get $e))))
      (local.set $slot (i32.and (i32.add (local.get $slot) (i32.const 1)) (local.get $mask)))
      (br $probe))
    (i32.const 0))
  ;; Entry of the 4-byte key in a selector table (entries: key, list offset, list length), or 0.
  (func $lookup4 (param $table i32) (param $shift i32) (param $mask i32) (param $key i32) (result i32)
    (local $slot i32) (local $e i32)
    (local.set $slot (i32.shr_u (i32.mul (local.get $key) (i32.const {mul32})) (local.get $shift)))
    (loop $probe
      (local.set $e (i32.add (local.get $table) (i32.shl (local.get $slot) (i32.const 4))))
      (if (i32.eqz (i32.load offset=8 (local.get $e))) (then (return (i32.const 0))))
      (if (i32.eq (i32.load (local.get $e)) (local.get $key)) (then (return (local.get $e))))
      (local.set $slot (i32.and (i32.add (local.get $slot) (i32.const 1)) (local.get $mask)))
      (br $probe))
    (i32.const 0))
  ;; Runs the candidate rules listed at $list against record $r; returns the new match count.
  (func $run (param $r i32) (param $list i32) (param $len i32) (param $tx i32) (param $out i32) (param $cap i32) (param $n i32) (result i32)
    (local $end i32) (local $id i32) (local $m i32)
    (local.set $end (i32.add (local.get $list) (i32.shl (local.get $len) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $list) (local.get $end)))
        (local.set $id (i32.load (local.get $list)))
        (if (call_indirect (type $pred) (local.get $r) (local.get $id))
          (then
            (if (i32.lt_u (local.get $n) (local.get $cap))
              (then
                (local.set $m (i32.add (local.get $out) (i32.mul (local.get $n) (i32.const 12))))
                (i32.store (local.get $m) (local.get $tx))
                (i32.store offset=4 (local.get $m) (local.get $id))
                (i32.store offset=8 (local.get $m) (i32.load8_u offset={severities} (local.get $id)))))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $list (i32.add (local.get $list) (i32.const 4)))
        (br $next)))
    (local.get $n))
  ;; Like $run over entries (id u32, pad, value floor f64) sorted by floor: stops at the first rule
  ;; whose floor is above the tx's value_eth (those rules and all after it cannot match).
  (func $run_sorted (param $r i32) (param $list i32) (param $len i32) (param $tx i32) (param $out i32) (param $cap i32) (param $n i32) (result i32)
    (local $end i32) (local $id i32) (local $m i32) (local $value f64)
    (local.set $value (f64.load offset={value_eth} (local.get $r)))
    (local.set $end (i32.add (local.get $list) (i32.shl (local.get $len) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $list) (local.get $end)))
        (br_if $done (f64.lt (local.get $value) (f64.load offset=8 (local.get $list))))
        (local.set $id (i32.load (local.get $list)))
        (if (call_indirect (type $pred) (local.get $r) (local.get $id))
          (then
            (if (i32.lt_u (local.get $n) (local.get $cap))
              (then
                (local.set $m (i32.add (local.get $out) (i32.mul (local.get $n) (i32.const 12))))
                (i32.store (local.get $m) (local.get $tx))
                (i32.store offset=4 (local.get $m) (local.get $id))
                (i32.store offset=8 (local.get $m) (i32.load8_u offset={severities} (local.get $id)))))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $list (i32.add (local.get $list) (i32.const 16)))
        (br $next)))
    (local.get $n))
