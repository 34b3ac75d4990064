/**
 * The argument and stack shapes of the pickle opcodes the scanner walks
 * (protocols 0 to 5), by opcode byte.
 *
 * @internal
 */

/** Sizes of fixed arguments. */
export const FIXED: Record<number, number> = {
  0x4b: 1, // K BININT1
  0x4d: 2, // M BININT2
  0x4a: 4, // J BININT
  0x47: 8, // G BINFLOAT
};
/** Length-prefixed arguments: size of the length field. */
export const LENGTH_PREFIXED: Record<number, number> = {
  0x55: 1, // U SHORT_BINSTRING
  0x54: 4, // T BINSTRING
  0x58: 4, // X BINUNICODE
  0x8c: 1, // SHORT_BINUNICODE
  0x8d: 8, // BINUNICODE8
  0x8e: 8, // BINBYTES8
  0x42: 4, // B BINBYTES
  0x43: 1, // C SHORT_BINBYTES
  0x96: 8, // BYTEARRAY8
  0x8a: 1, // LONG1
  0x8b: 4, // LONG4
};
/** Argument sizes of EXT1, EXT2, EXT4. */
export const EXT_SIZES: Record<number, number> = { 0x82: 1, 0x83: 2, 0x84: 4 };
/** Opcodes whose length-prefixed argument is a text string. */
export const STRING_PUSH = new Set([0x55, 0x54, 0x58, 0x8c, 0x8d]);
/** Newline-terminated single-line arguments that push a value. */
export const LINE_PUSH = new Set([0x49, 0x4c, 0x46, 0x53, 0x56, 0x50]);

/**
 * Opcodes without argument: [pops, pushes]. `pops` of -1 pops to the last
 * mark; -2 pops to the mark and then one item below it (APPENDS, SETITEMS,
 * ADDITEMS keep their target); top-only ops (BUILD, APPEND, …) are exact.
 */
export const NO_ARG: Record<number, [number, number]> = {
  0x4e: [0, 1], // N NONE
  0x52: [2, 1], // R REDUCE
  0x5d: [0, 1], // ] EMPTY_LIST
  0x61: [1, 0], // a APPEND (target stays)
  0x62: [1, 0], // b BUILD (target stays)
  0x64: [-1, 1], // d DICT
  0x7d: [0, 1], // } EMPTY_DICT
  0x65: [-1, 0], // e APPENDS (target stays)
  0x6c: [-1, 1], // l LIST
  0x29: [0, 1], // ) EMPTY_TUPLE
  0x73: [2, 0], // s SETITEM (target stays)
  0x74: [-1, 1], // t TUPLE
  0x75: [-1, 0], // u SETITEMS (target stays)
  0x6f: [-1, 1], // o OBJ
  0x51: [1, 1], // Q BINPERSID
  0x81: [2, 1], // NEWOBJ
  0x85: [1, 1], // TUPLE1
  0x86: [2, 1], // TUPLE2
  0x87: [3, 1], // TUPLE3
  0x88: [0, 1], // NEWTRUE
  0x89: [0, 1], // NEWFALSE
  0x8f: [0, 1], // EMPTY_SET
  0x90: [-1, 0], // ADDITEMS (target stays)
  0x91: [-1, 1], // FROZENSET
  0x92: [3, 1], // NEWOBJ_EX
  0x97: [0, 1], // NEXT_BUFFER
  0x98: [0, 0], // READONLY_BUFFER
};
/** Opcodes that need an item below the popped ones (their target). */
export const NEEDS_TARGET = new Set([0x61, 0x62, 0x65, 0x73, 0x75, 0x90, 0x98]);
