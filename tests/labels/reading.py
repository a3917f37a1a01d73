"""Reading the PDFs back as a person and a scanner would: each page rasterised
(pypdfium2 → PIL) and every barcode decoded by zxing-cpp, a reader that shares no code with
the writers (ReportLab's Code 128, ppf-datamatrix); and each page's text."""

from __future__ import annotations

import pypdfium2 as pdfium
import zxingcpp

CODE128 = "Code128"
DATAMATRIX = "DataMatrix"
_FORMATS = {zxingcpp.BarcodeFormat.Code128: CODE128, zxingcpp.BarcodeFormat.DataMatrix: DATAMATRIX}
DPI = 300


def page_images(content: bytes, dpi: int = DPI):
    document = pdfium.PdfDocument(content)
    try:
        return [page.render(scale=dpi / 72).to_pil() for page in document]
    finally:
        document.close()


def barcodes(content: bytes, dpi: int = DPI) -> list[list[tuple[str, str]]]:
    """Per page, every symbol found as (format, text), top to bottom, left to right."""
    pages = []
    for image in page_images(content, dpi):
        found = zxingcpp.read_barcodes(image)
        found.sort(key=lambda r: (r.position.top_left.y // 20, r.position.top_left.x))
        pages.append([(_FORMATS.get(r.format, str(r.format)), r.text) for r in found])
    return pages


def of_format(page: list[tuple[str, str]], fmt: str) -> list[str]:
    return [text for found, text in page if found == fmt]


def page_texts(content: bytes) -> list[str]:
    document = pdfium.PdfDocument(content)
    try:
        texts = []
        for page in document:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
        return texts
    finally:
        document.close()


def page_count(content: bytes) -> int:
    document = pdfium.PdfDocument(content)
    try:
        return len(document)
    finally:
        document.close()
