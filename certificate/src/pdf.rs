//! The PDF/A-3b writer: A4 pages of laid-out text, the embedded documents as associated files,
//! and, for a sealed certificate, an invisible signature field with room for a PAdES seal.
//!
//! What makes the file PDF/A-3b (ISO 19005-3, level B), and where each rule is met:
//!
//! 1. Fonts are embedded: subsets of DejaVu Sans, Sans Bold and Sans Mono (TrueType outlines),
//!    written as CID fonts (`Type0`/`CIDFontType2`, `Identity-H`, `CIDToGIDMap /Identity`) with
//!    widths from the font's own metrics, and a `ToUnicode` map so the text can be copied and
//!    searched. No text refers to the `.notdef` glyph: a character the fonts lack is written
//!    as `?` ([`Fonts::glyph`]).
//! 2. Colour is device-independent: every colour is set in a `CalGray` space, so no output
//!    intent is needed.
//! 3. The catalog holds XMP metadata (uncompressed) that identifies the file as PDF/A-3B, with
//!    its title and dates; there is no `Info` dictionary to disagree with it.
//! 4. The trailer has an `ID`; the file has a binary marker; nothing is encrypted, no
//!    JavaScript, no transparency, no external content.
//! 5. Each embedded document is an associated file of the catalog (`AF`), with `F` and `UF`
//!    names, a MIME subtype, a modification date, a description and its `AFRelationship`
//!    (`Source` for the document the certificate states, `Supplement` for the others).
//! 6. The seal's widget is printable, hidden from no one, and has a zero-size rectangle (so it
//!    needs no appearance stream); its signature dictionary's `Contents` is a hex string.
//!
//! Embedded documents are stored unfiltered, so that `letro-verify` reads them without a
//! decompressor; page contents and fonts are Flate-compressed.

use pdf_writer::types::{
    AnnotationFlags, AssociationKind, CidFontType, FieldType, FontFlags, SigFlags, SystemInfo,
};
use pdf_writer::writers::ColorSpace;
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use sha2::{Digest, Sha256};
use ttf_parser::{Face, GlyphId};

use crate::{Attachment, Block, CertificateError, Document, Relationship};

/// A4, in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 56.0;
const MARGIN_TOP: f32 = 52.0;
const MARGIN_BOTTOM: f32 = 58.0;
/// Where a field's value starts, from the left margin.
const LABEL_W: f32 = 138.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN_X;

const BODY: f32 = 9.0;
const SMALL: f32 = 8.0;

/// The three faces every certificate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Face3 {
    Regular = 0,
    Bold = 1,
    Mono = 2,
}

const FACES: [(Face3, &str); 3] = [
    (Face3::Regular, "DejaVuSans"),
    (Face3::Bold, "DejaVuSans-Bold"),
    (Face3::Mono, "DejaVuSansMono"),
];

fn font_data(f: Face3) -> &'static [u8] {
    match f {
        Face3::Regular => dejavu::sans::regular(),
        Face3::Bold => dejavu::sans::bold(),
        Face3::Mono => dejavu::sans_mono::regular(),
    }
}

/// The parsed faces, with the glyphs each page used.
pub(crate) struct Fonts {
    faces: Vec<Face<'static>>,
}

impl Fonts {
    pub(crate) fn load() -> Result<Self, CertificateError> {
        let mut faces = Vec::new();
        for (f, name) in FACES {
            faces.push(
                Face::parse(font_data(f), 0)
                    .map_err(|e| CertificateError::Font(format!("{name}: {e}")))?,
            );
        }
        Ok(Self { faces })
    }

    fn face(&self, f: Face3) -> Result<&Face<'static>, CertificateError> {
        self.faces
            .get(f as usize)
            .ok_or_else(|| CertificateError::Font("face not loaded".into()))
    }

    /// The glyph for `c`, or for `?` when the face has none (never `.notdef`).
    fn glyph(face: &Face<'_>, c: char) -> GlyphId {
        let c = if c.is_control() { ' ' } else { c };
        face.glyph_index(c)
            .or_else(|| face.glyph_index('?'))
            .unwrap_or(GlyphId(0))
    }

    /// Width of `text` at `size`, in points.
    fn width(&self, f: Face3, size: f32, text: &str) -> f32 {
        let Ok(face) = self.face(f) else { return 0.0 };
        let upem = f32::from(face.units_per_em().max(1));
        text.chars()
            .map(|c| f32::from(face.glyph_hor_advance(Self::glyph(face, c)).unwrap_or(0)))
            .sum::<f32>()
            * size
            / upem
    }
}

/// One drawing operation on a page.
enum Op {
    Text {
        face: Face3,
        size: f32,
        x: f32,
        y: f32,
        text: String,
        gray: f32,
    },
    Rule {
        y: f32,
        width: f32,
        gray: f32,
    },
}

/// Pages of operations, filled top to bottom.
struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Self {
            fonts,
            pages: vec![Vec::new()],
            y: PAGE_H - MARGIN_TOP,
        }
    }

    /// Makes room for `h` points, starting a new page when the current one is full.
    fn need(&mut self, h: f32) {
        if self.y - h < MARGIN_BOTTOM {
            self.pages.push(Vec::new());
            self.y = PAGE_H - MARGIN_TOP;
        }
    }

    fn push(&mut self, op: Op) {
        if let Some(p) = self.pages.last_mut() {
            p.push(op);
        }
    }

    /// Breaks `text` into lines of at most `width` points: at spaces, and inside a word only
    /// when the word alone is too long (a hash).
    fn wrap(&self, face: Face3, size: f32, width: f32, text: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.fonts.width(face, size, &candidate) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // The word alone: split it where it overflows.
                for c in word.chars() {
                    let mut next = line.clone();
                    next.push(c);
                    if !line.is_empty() && self.fonts.width(face, size, &next) > width {
                        lines.push(std::mem::take(&mut line));
                        line.push(c);
                    } else {
                        line = next;
                    }
                }
            }
            lines.push(line);
        }
        lines
    }

    fn text_block(&mut self, face: Face3, size: f32, x: f32, width: f32, text: &str, gray: f32) {
        let leading = size * 1.32;
        for line in self.wrap(face, size, width, text) {
            self.need(leading);
            self.y -= leading;
            let y = self.y;
            self.push(Op::Text {
                face,
                size,
                x,
                y,
                text: line,
                gray,
            });
        }
    }

    fn block(&mut self, b: &Block) {
        match b {
            Block::Section(title) => {
                self.need(40.0);
                self.y -= 12.0;
                self.text_block(Face3::Bold, 11.5, MARGIN_X, TEXT_W, title, 0.0);
                self.y -= 4.0;
                let y = self.y;
                self.push(Op::Rule {
                    y,
                    width: 0.6,
                    gray: 0.55,
                });
                self.y -= 2.0;
            }
            Block::Paragraph(t) => {
                self.text_block(Face3::Regular, BODY, MARGIN_X, TEXT_W, t, 0.0);
                self.y -= 3.0;
            }
            Block::Warning(t) => {
                self.need(30.0);
                self.y -= 6.0;
                let y = self.y;
                self.push(Op::Rule {
                    y,
                    width: 1.5,
                    gray: 0.0,
                });
                self.y -= 1.0;
                self.text_block(Face3::Bold, BODY, MARGIN_X, TEXT_W, t, 0.0);
                self.y -= 5.0;
                let y = self.y;
                self.push(Op::Rule {
                    y,
                    width: 1.5,
                    gray: 0.0,
                });
                self.y -= 2.0;
            }
            Block::Code(t) => {
                self.text_block(Face3::Mono, SMALL, MARGIN_X + 12.0, TEXT_W - 12.0, t, 0.0);
                self.y -= 3.0;
            }
            Block::Bullet(t) => {
                let lines = self.wrap(Face3::Regular, BODY, TEXT_W - 14.0, t);
                let leading = BODY * 1.32;
                for (i, line) in lines.into_iter().enumerate() {
                    self.need(leading);
                    self.y -= leading;
                    let y = self.y;
                    if i == 0 {
                        self.push(Op::Text {
                            face: Face3::Regular,
                            size: BODY,
                            x: MARGIN_X + 3.0,
                            y,
                            text: "•".into(),
                            gray: 0.0,
                        });
                    }
                    self.push(Op::Text {
                        face: Face3::Regular,
                        size: BODY,
                        x: MARGIN_X + 14.0,
                        y,
                        text: line,
                        gray: 0.0,
                    });
                }
                self.y -= 2.0;
            }
            Block::Field { label, value, mono } => {
                let (face, size) = if *mono {
                    (Face3::Mono, SMALL)
                } else {
                    (Face3::Regular, BODY)
                };
                let labels = self.wrap(Face3::Bold, SMALL + 0.5, LABEL_W - 8.0, label);
                let values = self.wrap(face, size, TEXT_W - LABEL_W, value);
                let leading = BODY * 1.32;
                let rows = labels.len().max(values.len());
                self.need(leading * rows as f32);
                for i in 0..rows {
                    self.y -= leading;
                    let y = self.y;
                    if let Some(l) = labels.get(i) {
                        self.push(Op::Text {
                            face: Face3::Bold,
                            size: SMALL + 0.5,
                            x: MARGIN_X,
                            y,
                            text: l.clone(),
                            gray: 0.25,
                        });
                    }
                    if let Some(v) = values.get(i) {
                        self.push(Op::Text {
                            face,
                            size,
                            x: MARGIN_X + LABEL_W,
                            y,
                            text: v.clone(),
                            gray: 0.0,
                        });
                    }
                }
                self.y -= 3.0;
            }
        }
    }
}

/// Lays out `doc`: the title block, its blocks, and a footer on every page.
fn lay_out(doc: &Document, fonts: &Fonts) -> Vec<Vec<Op>> {
    let mut l = Layout::new(fonts);
    l.text_block(Face3::Bold, 17.0, MARGIN_X, TEXT_W, &doc.title, 0.0);
    l.y -= 2.0;
    l.text_block(Face3::Regular, BODY, MARGIN_X, TEXT_W, &doc.subtitle, 0.3);
    l.y -= 4.0;
    let y = l.y;
    l.push(Op::Rule {
        y,
        width: 1.2,
        gray: 0.0,
    });
    for b in &doc.blocks {
        l.block(b);
    }
    let n = l.pages.len();
    for (i, page) in l.pages.iter_mut().enumerate() {
        page.push(Op::Rule {
            y: MARGIN_BOTTOM - 18.0,
            width: 0.4,
            gray: 0.55,
        });
        page.push(Op::Text {
            face: Face3::Regular,
            size: 7.0,
            x: MARGIN_X,
            y: MARGIN_BOTTOM - 30.0,
            text: format!("{}  ·  page {} of {n}", doc.footer, i + 1),
            gray: 0.35,
        });
    }
    l.pages
}

/// Room for a PAdES seal: the signature field written into the page, with placeholders that
/// [`crate::seal`] fills.
#[derive(Debug, Clone)]
pub(crate) struct SealSpace {
    /// Bytes reserved for the CMS signature (the hex string holds twice as many digits).
    pub(crate) contents_len: usize,
    /// The signing time, for the signature dictionary's `M`.
    pub(crate) time: u64,
    /// The issuer, for `Name`.
    pub(crate) name: String,
}

/// The `ByteRange` placeholder: four integers whose printed width is kept when filled.
pub(crate) const BYTE_RANGE_PLACEHOLDER: [i32; 4] =
    [0, 1_000_000_000, 1_000_000_000, 1_000_000_000];
/// The byte the `Contents` placeholder is filled with (written as `FF` hex digits).
pub(crate) const CONTENTS_FILL: u8 = 0xff;

fn pdf_date(t: u64) -> Result<Date, CertificateError> {
    let dt = time::OffsetDateTime::from_unix_timestamp(i64::try_from(t).unwrap_or(i64::MAX))
        .map_err(|_| CertificateError::Time(t))?;
    let year = u16::try_from(dt.year()).map_err(|_| CertificateError::Time(t))?;
    Ok(Date::new(year)
        .month(u8::from(dt.month()))
        .day(dt.day())
        .hour(dt.hour())
        .minute(dt.minute())
        .second(dt.second())
        .utc_offset_hour(0)
        .utc_offset_minute(0))
}

fn xmp_date(t: u64) -> Result<String, CertificateError> {
    letro_core::bundle::format_time(t).ok_or(CertificateError::Time(t))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xmp(doc: &Document) -> Result<String, CertificateError> {
    let date = xmp_date(doc.issued_at)?;
    let title = xml_escape(&doc.title);
    let producer = xml_escape(&doc.producer);
    Ok(format!(
        r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <pdfaid:part>3</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>
   <dc:language><rdf:Bag><rdf:li>en</rdf:li></rdf:Bag></dc:language>
   <xmp:CreateDate>{date}</xmp:CreateDate>
   <xmp:ModifyDate>{date}</xmp:ModifyDate>
   <xmp:MetadataDate>{date}</xmp:MetadataDate>
   <xmp:CreatorTool>{producer}</xmp:CreatorTool>
   <pdf:Producer>{producer}</pdf:Producer>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>"#
    ))
}

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// A six-letter subset tag (`ABCDEF+`), from the glyphs kept.
fn subset_tag(glyphs: &[u16]) -> String {
    let mut h = Sha256::new();
    for g in glyphs {
        h.update(g.to_be_bytes());
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

/// Writes the font `f` (the glyphs `used` of it) as a Type0 font at `type0`; returns the
/// new glyph id of each character used.
fn write_font(
    pdf: &mut Pdf,
    next: &mut Ref,
    type0: Ref,
    fonts: &Fonts,
    f: Face3,
    used: &std::collections::BTreeSet<char>,
) -> Result<std::collections::BTreeMap<char, u16>, CertificateError> {
    let face = fonts.face(f)?;
    let name = FACES.get(f as usize).map_or("DejaVu", |(_, n)| n);
    let mut remapper = subsetter::GlyphRemapper::new();
    let mut map = std::collections::BTreeMap::new();
    for c in used {
        let g = Fonts::glyph(face, *c);
        map.insert(*c, remapper.remap(g.0));
    }
    let data = subsetter::subset(font_data(f), 0, &remapper)
        .map_err(|e| CertificateError::Font(format!("subsetting {name}: {e:?}")))?;
    let mut glyphs: Vec<u16> = map.values().copied().collect();
    glyphs.sort_unstable();
    let base = format!("{}+{name}", subset_tag(&glyphs));
    let upem = f32::from(face.units_per_em().max(1));
    let scale = |v: i16| f32::from(v) * 1000.0 / upem;

    let cid = next.bump();
    let descriptor = next.bump();
    let file = next.bump();
    let cmap = next.bump();

    pdf.type0_font(type0)
        .base_font(Name(base.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);

    let info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    let mut cid_font = pdf.cid_font(cid);
    cid_font
        .subtype(CidFontType::Type2)
        .base_font(Name(base.as_bytes()))
        .system_info(info)
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    // The subset keeps the glyph order of the remapper: new id n is the n-th glyph remapped.
    let mut widths = cid_font.widths();
    for (old, new) in remapper.remapped_gids().enumerate().map(|(i, g)| (g, i)) {
        let w = f32::from(face.glyph_hor_advance(GlyphId(old)).unwrap_or(0)) * 1000.0 / upem;
        if let Ok(n) = u16::try_from(new) {
            widths.consecutive(n, [w]);
        }
    }
    widths.finish();
    cid_font.finish();

    let bbox = face.global_bounding_box();
    let mut flags = FontFlags::NON_SYMBOLIC;
    if f == Face3::Mono {
        flags |= FontFlags::FIXED_PITCH;
    }
    pdf.font_descriptor(descriptor)
        .name(Name(base.as_bytes()))
        .flags(flags)
        .bbox(Rect::new(
            scale(bbox.x_min),
            scale(bbox.y_min),
            scale(bbox.x_max),
            scale(bbox.y_max),
        ))
        .italic_angle(0.0)
        .ascent(scale(face.ascender()))
        .descent(scale(face.descender()))
        .cap_height(scale(face.capital_height().unwrap_or(face.ascender())))
        .stem_v(if f == Face3::Bold { 120.0 } else { 80.0 })
        .font_file2(file);

    let compressed = deflate(&data);
    pdf.stream(file, &compressed)
        .filter(Filter::FlateDecode)
        .pair(
            Name(b"Length1"),
            i32::try_from(data.len()).unwrap_or(i32::MAX),
        );

    let mut unicode = pdf_writer::types::UnicodeCmap::new(Name(b"Custom"), info);
    for (c, g) in &map {
        unicode.pair(*g, *c);
    }
    pdf.cmap(cmap, &unicode.finish());
    Ok(map)
}

fn attachment_relationship(r: Relationship) -> AssociationKind {
    match r {
        Relationship::Source => AssociationKind::Source,
        Relationship::Supplement => AssociationKind::Supplement,
    }
}

/// PDF names may hold any byte but NUL; `/` in a MIME type is written `#2F`.
fn mime_name(m: &str) -> Vec<u8> {
    m.bytes()
        .flat_map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'+' {
                vec![b]
            } else {
                format!("#{b:02X}").into_bytes()
            }
        })
        .collect()
}

/// Writes `doc` as a PDF/A-3b file; with `seal`, with an empty signature to fill.
pub(crate) fn write(doc: &Document, seal: Option<&SealSpace>) -> Result<Vec<u8>, CertificateError> {
    let fonts = Fonts::load()?;
    let pages = lay_out(doc, &fonts);

    // Characters used per face.
    let mut used: [std::collections::BTreeSet<char>; 3] = Default::default();
    for op in pages.iter().flatten() {
        if let Op::Text { face, text, .. } = op {
            if let Some(set) = used.get_mut(*face as usize) {
                set.extend(text.chars().map(|c| if c.is_control() { ' ' } else { c }));
            }
        }
    }

    let mut pdf = Pdf::new();
    pdf.set_version(1, 7);
    let mut id = Sha256::new();
    id.update(doc.title.as_bytes());
    id.update(doc.issued_at.to_be_bytes());
    for a in &doc.attachments {
        id.update(Sha256::digest(&a.bytes));
    }
    let id = id
        .finalize()
        .get(..16)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    pdf.set_file_id((id.clone(), id));

    let mut next = Ref::new(1);
    let catalog = next.bump();
    let tree = next.bump();
    let metadata = next.bump();
    let font_refs = [next.bump(), next.bump(), next.bump()];
    let page_refs: Vec<Ref> = pages.iter().map(|_| next.bump()).collect();
    let content_refs: Vec<Ref> = pages.iter().map(|_| next.bump()).collect();
    let spec_refs: Vec<Ref> = doc.attachments.iter().map(|_| next.bump()).collect();
    let file_refs: Vec<Ref> = doc.attachments.iter().map(|_| next.bump()).collect();
    let field = next.bump();
    let signature = next.bump();

    // Fonts.
    let mut maps = Vec::new();
    for (f, _) in FACES {
        let r = font_refs.get(f as usize).copied().unwrap_or(Ref::new(1));
        let set = used.get(f as usize).cloned().unwrap_or_default();
        maps.push(write_font(&mut pdf, &mut next, r, &fonts, f, &set)?);
    }

    // Catalog: pages, metadata, attachments (name tree sorted by name), associated files, and
    // the form holding the seal.
    let mut sorted: Vec<(usize, &Attachment)> = doc.attachments.iter().enumerate().collect();
    sorted.sort_by(|a, b| a.1.name.as_bytes().cmp(b.1.name.as_bytes()));
    {
        let mut c = pdf.catalog(catalog);
        c.pages(tree).metadata(metadata).lang(TextStr("en"));
        {
            let mut names = c.names();
            let mut files = names.embedded_files();
            let mut entries = files.names();
            for (i, a) in &sorted {
                if let Some(r) = spec_refs.get(*i) {
                    entries.insert(Str(a.name.as_bytes()), *r);
                }
            }
        }
        c.insert(Name(b"AF"))
            .array()
            .items(spec_refs.iter().copied());
        if seal.is_some() {
            let mut form = c.form();
            form.fields([field])
                .sig_flags(SigFlags::SIGNATURES_EXIST | SigFlags::APPEND_ONLY);
        }
    }

    pdf.pages(tree)
        .kids(page_refs.iter().copied())
        .count(i32::try_from(pages.len()).unwrap_or(i32::MAX));
    for (n, ops) in pages.iter().enumerate() {
        let (Some(page_ref), Some(content_ref)) = (page_refs.get(n), content_refs.get(n)) else {
            continue;
        };
        let mut page = pdf.page(*page_ref);
        page.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(*content_ref);
        if n == 0 && seal.is_some() {
            page.annotations([field]);
        }
        let mut resources = page.resources();
        {
            let mut fonts_dict = resources.fonts();
            for (f, r) in FACES.iter().zip(font_refs) {
                fonts_dict.pair(Name(format!("F{}", f.0 as usize).as_bytes()), r);
            }
        }
        resources
            .color_spaces()
            .insert(Name(b"G"))
            .start::<ColorSpace>()
            .cal_gray([0.9505, 1.0, 1.089], None, Some(2.2));
        resources.finish();
        page.finish();

        let mut content = Content::new();
        content.set_fill_color_space(pdf_writer::types::ColorSpaceOperand::Named(Name(b"G")));
        content.set_stroke_color_space(pdf_writer::types::ColorSpaceOperand::Named(Name(b"G")));
        for op in ops {
            match op {
                Op::Text {
                    face,
                    size,
                    x,
                    y,
                    text,
                    gray,
                } => {
                    let map = maps.get(*face as usize);
                    let mut bytes = Vec::with_capacity(text.len() * 2);
                    for c in text.chars() {
                        let c = if c.is_control() { ' ' } else { c };
                        let g = map.and_then(|m| m.get(&c)).copied().unwrap_or(0);
                        bytes.extend_from_slice(&g.to_be_bytes());
                    }
                    content.set_fill_color([*gray]);
                    content.begin_text();
                    content.set_font(Name(format!("F{}", *face as usize).as_bytes()), *size);
                    content.next_line(*x, *y);
                    content.show(Str(&bytes));
                    content.end_text();
                }
                Op::Rule { y, width, gray } => {
                    content.set_stroke_color([*gray]);
                    content.set_line_width(*width);
                    content.move_to(MARGIN_X, *y);
                    content.line_to(PAGE_W - MARGIN_X, *y);
                    content.stroke();
                }
            }
        }
        let data = deflate(&content.finish().into_vec());
        pdf.stream(*content_ref, &data).filter(Filter::FlateDecode);
    }

    // The embedded documents.
    let date = pdf_date(doc.issued_at)?;
    for ((a, spec), file) in doc.attachments.iter().zip(&spec_refs).zip(&file_refs) {
        let mime = mime_name(&a.mime);
        let mut ef = pdf.embedded_file(*file, &a.bytes);
        ef.subtype(Name(&mime));
        ef.params()
            .size(i32::try_from(a.bytes.len()).unwrap_or(i32::MAX))
            .modification_date(date);
        ef.finish();
        pdf.file_spec(*spec)
            .path(Str(a.name.as_bytes()))
            .unic_file(TextStr(&a.name))
            .description(TextStr(&a.description))
            .embedded_file_with_unicode(*file)
            .association_kind(attachment_relationship(a.relationship));
    }

    // The seal: one invisible, printable signature widget on page 1, and its signature
    // dictionary with placeholders.
    if let (Some(s), Some(first)) = (seal, page_refs.first()) {
        let mut f = pdf.form_field(field);
        f.field_type(FieldType::Signature)
            .partial_name(TextStr("Seal"))
            .pair(Name(b"V"), signature);
        let mut annot = f.into_annotation();
        annot
            .rect(Rect::new(0.0, 0.0, 0.0, 0.0))
            .flags(AnnotationFlags::PRINT | AnnotationFlags::LOCKED)
            .page(*first);
        annot.finish();
        let mut sig = pdf.indirect(signature).dict();
        sig.pair(Name(b"Type"), Name(b"Sig"))
            .pair(Name(b"Filter"), Name(b"Adobe.PPKLite"))
            .pair(Name(b"SubFilter"), Name(b"ETSI.CAdES.detached"))
            .pair(Name(b"Name"), TextStr(&s.name))
            .pair(Name(b"M"), pdf_date(s.time)?)
            .pair(Name(b"Reason"), TextStr("Registered delivery evidence"));
        sig.insert(Name(b"ByteRange"))
            .array()
            .items(BYTE_RANGE_PLACEHOLDER);
        sig.pair(Name(b"Contents"), Str(&vec![CONTENTS_FILL; s.contents_len]));
        sig.finish();
    }

    // XMP last: PDF/A wants it unfiltered.
    let xmp = xmp(doc)?;
    pdf.metadata(metadata, xmp.as_bytes());
    Ok(pdf.finish())
}
