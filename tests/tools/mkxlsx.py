#!/usr/bin/env python3
"""Writes small .xlsx workbooks for the XLSForm tests, with nothing but
python's zipfile: the parts an .xlsx needs, cells as shared strings (or
inline strings), numbers and booleans.

  mkxlsx.py SPEC.json OUT.xlsx [--inline]
      SPEC: {"sheet name": [[cell, ...], ...], ...}, in workbook order;
      a cell is a string, a number, true/false, or null (empty).

  mkxlsx.py --broken KIND OUT.xlsx
      a hostile or broken workbook (one survey sheet otherwise valid):
      not-zip, truncated, no-workbook, doctype, entities, shared-index,
      declared-bomb (a part declaring 3 GB), actual-bomb (a part holding
      more than it declares), row-past-limit, column-past-limit,
      deep-nesting, too-many-strings, many-entries."""
import json
import struct
import sys
import zipfile
from xml.sax.saxutils import escape

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def col_name(i):
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def sheet_xml(rows, strings, inline, extra_rows=""):
    out = [HEAD, f'<worksheet xmlns="{NS}"><sheetData>']
    for r, row in enumerate(rows, 1):
        cells = []
        for c, v in enumerate(row):
            ref = f"{col_name(c)}{r}"
            if v is None:
                continue
            if isinstance(v, bool):
                cells.append(f'<c r="{ref}" t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, (int, float)):
                cells.append(f'<c r="{ref}"><v>{v}</v></c>')
            elif inline:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>'
                             f"{escape(v)}</t></is></c>")
            else:
                if v not in strings:
                    strings[v] = len(strings)
                cells.append(f'<c r="{ref}" t="s"><v>{strings[v]}</v></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    out.append(extra_rows)
    out.append("</sheetData></worksheet>")
    return "".join(out)


def write(path, sheets, inline=False, strings_xml=None, extra_rows=None,
          extra_parts=()):
    strings = {}
    parts = {}
    names = list(sheets)
    for i, name in enumerate(names, 1):
        parts[f"xl/worksheets/sheet{i}.xml"] = sheet_xml(
            sheets[name], strings, inline, (extra_rows or {}).get(name, ""))
    if strings_xml is None:
        items = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
        strings_xml = (f'{HEAD}<sst xmlns="{NS}" count="{len(strings)}" '
                       f'uniqueCount="{len(strings)}">{items}</sst>')
    parts["xl/sharedStrings.xml"] = strings_xml
    sheet_list = "".join(
        f'<sheet name="{escape(n)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, n in enumerate(names, 1))
    parts["xl/workbook.xml"] = (
        f'{HEAD}<workbook xmlns="{NS}" xmlns:r="{RNS}">'
        f"<sheets>{sheet_list}</sheets></workbook>")
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{RNS}/worksheet" '
        f'Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(names) + 1))
    rels += (f'<Relationship Id="rId{len(names) + 1}" '
             f'Type="{RNS}/sharedStrings" Target="sharedStrings.xml"/>')
    parts["xl/_rels/workbook.xml.rels"] = (
        f'{HEAD}<Relationships xmlns="{PKG}">{rels}</Relationships>')
    parts["_rels/.rels"] = (
        f'{HEAD}<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
        f'Type="{RNS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>")
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType='
        '"application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'worksheet+xml"/>' for i in range(1, len(names) + 1))
    parts["[Content_Types].xml"] = (
        f'{HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/'
        '2006/content-types"><Default Extension="xml" '
        'ContentType="application/xml"/><Override PartName="/xl/workbook.xml"'
        ' ContentType="application/vnd.openxmlformats-officedocument.'
        f'spreadsheetml.sheet.main+xml"/>{overrides}</Types>')
    for name, data in extra_parts:
        parts[name] = data
    # Fixed dates: the same input gives the same bytes.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(parts):
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            data = parts[name]
            z.writestr(info, data.encode() if isinstance(data, str) else data)


def patch_size(path, part, size):
    """Sets the uncompressed size a part declares, in its local header and
    in the central directory, leaving its data as it is."""
    blob = bytearray(open(path, "rb").read())
    name = part.encode()
    pos = 0
    while True:
        pos = blob.find(name, pos)
        if pos < 0:
            break
        # Local header (PK\3\4): name at 30; size at 22. Central directory
        # (PK\1\2): name at 46; size at 24.
        if blob[pos - 30:pos - 26] == b"PK\x03\x04":
            struct.pack_into("<I", blob, pos - 30 + 22, size)
        elif blob[pos - 46:pos - 42] == b"PK\x01\x02":
            struct.pack_into("<I", blob, pos - 46 + 24, size)
        pos += len(name)
    open(path, "wb").write(bytes(blob))


SURVEY = {"survey": [["type", "name", "label"], ["text", "q", "Q?"]]}


def broken(kind, path):
    if kind == "not-zip":
        open(path, "wb").write(b"type,name,label\ntext,q,Q?\n")
    elif kind == "truncated":
        write(path, SURVEY)
        data = open(path, "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
    elif kind == "no-workbook":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("hello.txt", "not a workbook")
    elif kind == "doctype":
        write(path, SURVEY, strings_xml=(
            f'{HEAD}<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">]>'
            f'<sst xmlns="{NS}"><si><t>&a;</t></si></sst>'))
    elif kind == "entities":
        # A billion laughs: never expanded, as the DOCTYPE is refused.
        ents = '<!ENTITY l0 "ha">' + "".join(
            f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">'
            for i in range(1, 10))
        write(path, SURVEY, strings_xml=(
            f'{HEAD}<!DOCTYPE sst [{ents}]>'
            f'<sst xmlns="{NS}"><si><t>&l9;</t></si></sst>'))
    elif kind == "shared-index":
        write(path, SURVEY, extra_rows={"survey": (
            '<row r="3"><c r="A3" t="s"><v>99</v></c></row>')})
    elif kind == "declared-bomb":
        write(path, SURVEY)
        patch_size(path, "xl/worksheets/sheet1.xml", 3000000000)
    elif kind == "actual-bomb":
        rows = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>'
                       f'{"x" * 1000}</t></is></c></row>'
                       for r in range(3, 1003))
        write(path, SURVEY, extra_rows={"survey": rows})
        patch_size(path, "xl/worksheets/sheet1.xml", 2000)
    elif kind == "row-past-limit":
        write(path, SURVEY, extra_rows={"survey": (
            '<row r="2000000"><c r="A2000000" t="inlineStr"><is><t>note'
            "</t></is></c></row>")})
    elif kind == "column-past-limit":
        write(path, SURVEY, extra_rows={"survey": (
            '<row r="3"><c r="XFE3" t="inlineStr"><is><t>x</t></is></c>'
            "</row>")})
    elif kind == "deep-nesting":
        write(path, SURVEY, extra_rows={"survey": (
            '<row r="3">' + "<x>" * 100 + "</x>" * 100 + "</row>")})
    elif kind == "many-entries":
        write(path, SURVEY, extra_parts=[(f"junk/{i}.txt", "x")
                                         for i in range(1200)])
    else:
        sys.exit(f"mkxlsx: unknown kind {kind}")


def main():
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "--broken":
        broken(args[1], args[2])
        return
    inline = "--inline" in args
    args = [a for a in args if a != "--inline"]
    if len(args) != 2:
        sys.exit(__doc__)
    with open(args[0], encoding="utf-8") as f:
        spec = json.load(f)
    write(args[1], spec, inline=inline)


if __name__ == "__main__":
    main()
