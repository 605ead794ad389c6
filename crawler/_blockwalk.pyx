# cython: language_level=3, boundscheck=False, wraparound=False
"""`crawler.extract_blocks.block_views`'s walk of the tree, in C over libxml2's nodes.

Written by hand because no library reads an lxml tree as text blocks: lxml's own iterwalk hands
every element to Python as a proxy object with its tag, text and tail as new strings, and that
Python step per event was about a quarter of a page's extraction (the walk: 1.5 ms of 5.6 ms a
corpus page). Here the walk reads the nodes' names, text and links in C; Python objects are made
only for the text itself, the blocks, their owners and the class/id of elements that have one.

It gives exactly what the Python walk gives (`tests/crawler/test_blockwalk.py` compares both on
every page the tests have): the same rules, in the same order, from `extract_blocks`'s constants.
A node the Python walk would see differently (a namespaced element, an entity reference, an
XInclude marker: none comes out of the HTML parser) raises `Unsupported`, and the caller walks that
page in Python.
"""

from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport free, realloc
from libc.string cimport strlen
from lxml.includes cimport tree
from lxml.includes.etreepublic cimport (
    LXML_VERSION_STRING, _Document, _Element, attributeValueFromNsName, elementFactory, import_lxml__etree,
)
from lxml.includes.tree cimport const_xmlChar, xmlNode

import_lxml__etree()

# The lxml whose headers this was compiled against: its element and node layouts are read here.
LXML_VERSION = LXML_VERSION_STRING.decode()


class Unsupported(Exception):
    """A node this walk does not read as lxml would: walk the page in Python."""


# A tag's kinds, from its name (see `_kinds`).
cdef enum:
    DROP = 1
    BLOCK = 2
    HEADING = 4
    ANCHOR = 8
    NEVER_FURNITURE = 16

cdef dict _KIND_OF = {}  # tag name (exact) -> kinds; filled by `configure`
cdef frozenset _DROP_TAGS = frozenset()


def configure(frozenset drop_tags, frozenset block_tags, frozenset headings, frozenset never_furniture):
    """Take the tag sets from `extract_blocks` (one source of truth for both walks)."""
    global _DROP_TAGS
    _DROP_TAGS = drop_tags
    _KIND_OF.clear()
    _name_kinds.clear()
    for names, kind in ((drop_tags, DROP), (block_tags, BLOCK), (headings, HEADING), (frozenset({"a"}), ANCHOR),
                        (never_furniture, NEVER_FURNITURE)):
        for name in names:
            _KIND_OF[name] = _KIND_OF.get(name, 0) | kind


cdef dict _name_kinds = {}  # name -> kinds, for every name met (a few dozen a site): built once a name
# A page of made-up tag names by the thousand must not grow that cache without end.
cdef Py_ssize_t _MAX_NAMES = 4096


cdef inline int _kinds(xmlNode* node) except -1:
    if node.ns is not NULL:
        raise Unsupported("namespaced element")
    name = PyUnicode_DecodeUTF8(<const char*>node.name, strlen(<const char*>node.name), NULL)
    found = _name_kinds.get(name)
    if found is not None:
        return found
    if len(_name_kinds) >= _MAX_NAMES:
        _name_kinds.clear()
    kinds = _KIND_OF.get(name, 0) & ~DROP
    # The Python walk: `tag in drop_tags or (not tag.islower() and tag.lower() in drop_tags)`.
    if name in _DROP_TAGS or (not name.islower() and name.lower() in _DROP_TAGS):
        kinds |= DROP
    _name_kinds[name] = kinds
    return kinds


cdef inline bint _is_text(xmlNode* node) noexcept:
    return node.type == tree.XML_TEXT_NODE or node.type == tree.XML_CDATA_SECTION_NODE


cdef inline str _content(xmlNode* node):
    if node.content is NULL:
        return ""
    return PyUnicode_DecodeUTF8(<const char*>node.content, strlen(<const char*>node.content), NULL)


cdef class _Walk:
    cdef list every, kept, parts, kept_parts
    cdef Py_ssize_t links_every, links_kept
    cdef object Block, odd_spaces, spaces
    cdef _Document doc
    cdef xmlNode* owner  # the innermost open block element (the walk's root when none is open)
    cdef int owner_kinds
    # The open block elements, innermost last: `owner` again when one ends.
    cdef xmlNode** owners
    cdef Py_ssize_t depth, room

    def __dealloc__(self):
        free(self.owners)

    cdef int open_block(self, xmlNode* node, int kinds) except -1:
        cdef xmlNode** grown
        if self.depth == self.room:
            grown = <xmlNode**>realloc(self.owners, (self.room * 2 + 64) * sizeof(xmlNode*))
            if grown is NULL:
                raise MemoryError()
            self.owners, self.room = grown, self.room * 2 + 64
        self.owners[self.depth] = node
        self.depth += 1
        self.owner, self.owner_kinds = node, kinds
        return 0

    cdef int close_block(self, xmlNode* top) except -1:
        self.depth -= 1
        self.owner = self.owners[self.depth - 1] if self.depth > 0 else top
        self.owner_kinds = _kinds(self.owner)
        return 0

    cdef object make(self, list pieces, Py_ssize_t link_chars):
        text = "".join(pieces)
        text = " ".join(text.split()) if self.odd_spaces.search(text) is None else self.spaces.sub(" ", text).strip()
        if not text:
            return None
        cdef Py_ssize_t chars = len(text) - text.count(" ")
        if link_chars > chars:
            link_chars = chars
        owner = elementFactory(self.doc, self.owner)
        return self.Block(text, link_chars, owner, bool(self.owner_kinds & HEADING), chars,
                          <double>link_chars / (chars if chars > 1 else 1))

    cdef int cut(self, bint hidden) except -1:
        # A block boundary: the pending text of either view becomes a block.
        if self.parts or self.kept_parts:
            self.flush(hidden)
        return 0

    cdef flush(self, bint hidden):
        shared = None
        cdef bint same
        if self.parts:
            same = not hidden and self.links_every == self.links_kept and self.parts == self.kept_parts
            block = self.make(self.parts, self.links_every)
            if block is not None:
                self.every.append(block)
            self.parts = []
            self.links_every = 0
            if same:
                shared = block
                self.kept_parts = []
                self.links_kept = 0
                if block is not None:
                    self.kept.append(block)
        if not hidden and self.kept_parts:
            block = shared if shared is not None else self.make(self.kept_parts, self.links_kept)
            if block is not None:
                self.kept.append(block)
            self.kept_parts = []
            self.links_kept = 0


def walk(_Element root, bint furniture, Block, odd_spaces, spaces, furniture_names, hides):
    """(every block, furniture skipped): see `extract_blocks.block_views`."""
    cdef _Walk w = _Walk()
    w.every, w.kept, w.parts, w.kept_parts = [], [], [], []
    w.links_every = w.links_kept = 0
    w.Block, w.odd_spaces, w.spaces = Block, odd_spaces, spaces
    w.doc = root._doc
    cdef xmlNode* top = root._c_node
    w.owner = top
    w.owner_kinds = _kinds(top)
    cdef bint link = False, hidden = False
    cdef xmlNode* link_opener = NULL
    cdef xmlNode* hider = NULL
    cdef xmlNode* node = top
    cdef xmlNode* at
    cdef int kinds
    cdef bint descend

    while True:
        # `node` starts (an element) or is a comment or processing instruction.
        descend = False
        if node.type == tree.XML_ELEMENT_NODE:
            kinds = _kinds(node)
            if not kinds & DROP:
                descend = True
                if furniture and not hidden and node is not top and not kinds & NEVER_FURNITURE:
                    cls = attributeValueFromNsName(node, NULL, <const_xmlChar*>b"class")
                    ident = attributeValueFromNsName(node, NULL, <const_xmlChar*>b"id")
                    if (cls or ident) and furniture_names[f"{cls or ''} {ident or ''}"] and hides(
                            elementFactory(w.doc, node), w.every, w.parts):
                        hider, hidden = node, True
                if kinds & BLOCK:
                    w.cut(hidden)
                    w.open_block(node, kinds)
                if not link and kinds & ANCHOR:
                    link, link_opener = True, node
                at = _read_text(w, node.children, hidden, link)
                if at is not NULL:
                    node = at
                    continue
        elif node.type != tree.XML_COMMENT_NODE and node.type != tree.XML_PI_NODE:
            raise Unsupported(f"node type {node.type}")
        # `node` ends (a dropped element or one without children after its text: here at once).
        while True:
            if node is top:
                w.flush(False)
                return w.every, w.kept
            if node.type == tree.XML_ELEMENT_NODE:
                if node is w.owner:
                    w.cut(hidden)
                    w.close_block(top)
                if node is hider:
                    hidden, hider = False, NULL
                if node is link_opener:
                    link, link_opener = False, NULL
            at = _read_text(w, node.next, hidden, link)  # its tail
            if at is not NULL:
                node = at
                break
            node = node.parent  # the last child ended: its parent ends now


cdef xmlNode* _read_text(_Walk w, xmlNode* node, bint hidden, bint link) except? NULL:
    """Read the run of text nodes from `node` (an element's text or a node's tail: lxml joins the
    run, as here); the node after it."""
    if node is NULL or not _is_text(node):
        return node
    text = _content(node)
    node = node.next
    if node is not NULL and _is_text(node):  # more than one text node (rare)
        pieces = [text]
        while node is not NULL and _is_text(node):
            pieces.append(_content(node))
            node = node.next
        text = "".join(pieces)
    _take(w, text, hidden, link)
    return node


cdef inline void _take(_Walk w, text, bint hidden, bint link) except *:
    # The text goes to the pending block of each view that reads it.
    if not text:
        return
    if text.isspace():
        if w.parts:
            w.parts.append(text)
        if w.kept_parts and not hidden:
            w.kept_parts.append(text)
        return
    w.parts.append(text)
    if not hidden:
        w.kept_parts.append(text)
    cdef Py_ssize_t n
    if link:
        n = len("".join(text.split()))
        w.links_every += n
        if not hidden:
            w.links_kept += n
