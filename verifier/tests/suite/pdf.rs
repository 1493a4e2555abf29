//! `letro_verifier::pdf`: the attachments of evidence certificates written by `pdf-writer` (as
//! Letro writes them) and by hand, incremental updates, every refusal of the module's rules, and
//! truncated, corrupted and random files (never a panic; an `Ok` never invents an attachment).

use letro_verifier::pdf::{
    attachments, is_pdf, Attachment, ObjectId, PdfError, MAX_ATTACHMENTS, MAX_ATTACHMENT_BYTES,
    MAX_OBJECTS,
};
use pdf_writer::types::AssociationKind;
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Certificates written with pdf-writer.

#[derive(Default, Clone, Copy)]
struct Options {
    /// `/EF << /F R /UF R >>` instead of `/EF << /F R >>`.
    unicode_ef: bool,
    /// Mark the first embedded file `/Filter /FlateDecode`.
    flate: bool,
    /// Finish with a cross-reference stream.
    xref_stream: bool,
    /// The name tree as a root with `/Kids`, two entries per leaf.
    kids: bool,
}

/// The name tree key of a file name: the name as a text string (UTF-16BE with a BOM unless
/// printable ASCII), as a careful writer does.
fn key(name: &str) -> Vec<u8> {
    if name.bytes().all(|b| (32..=126).contains(&b)) {
        name.as_bytes().to_vec()
    } else {
        let mut k = vec![0xFE, 0xFF];
        for u in name.encode_utf16() {
            k.extend(u.to_be_bytes());
        }
        k
    }
}

/// A PDF/A-3-like certificate with one page and `files` embedded: catalog 1, page tree 2, page
/// 3, file `i` with its file specification `10 + 2i` and stream `11 + 2i`.
fn certificate_with(files: &[(&str, &[u8])], opt: Options) -> Vec<u8> {
    let catalog_id = Ref::new(1);
    let page_tree_id = Ref::new(2);
    let page_id = Ref::new(3);
    let mut pdf = Pdf::new();
    pdf.set_file_id((b"letro-certificate".to_vec(), b"revision-1".to_vec()));
    let mut specs = Vec::new();
    for (i, (name, bytes)) in files.iter().enumerate() {
        let spec = Ref::new(10 + 2 * i as i32);
        let stream = Ref::new(11 + 2 * i as i32);
        let mut ef = pdf.embedded_file(stream, bytes);
        ef.subtype(Name(b"application#2Fjson"));
        ef.params().size(bytes.len() as i32);
        if opt.flate && i == 0 {
            ef.filter(Filter::FlateDecode);
        }
        ef.finish();
        let mut fs = pdf.file_spec(spec);
        fs.path(Str(name.as_bytes()))
            .unic_file(TextStr(name))
            .description(TextStr("Letro evidence"))
            .association_kind(AssociationKind::Source);
        if opt.unicode_ef {
            fs.embedded_file_with_unicode(stream);
        } else {
            fs.embedded_file(stream);
        }
        fs.finish();
        specs.push((key(name), spec));
    }
    let leaves: Vec<Ref> = (0..specs.len().div_ceil(2))
        .map(|i| Ref::new(500 + i as i32))
        .collect();
    {
        let mut catalog = pdf.catalog(catalog_id);
        catalog.pages(page_tree_id);
        catalog
            .insert(Name(b"AF"))
            .array()
            .items(specs.iter().map(|(_, s)| *s));
        let mut names = catalog.names();
        let mut tree = names.embedded_files();
        if opt.kids {
            tree.kids().items(leaves.iter().copied());
        } else {
            let mut entries = tree.names();
            for (k, spec) in &specs {
                entries.insert(Str(k), *spec);
            }
        }
    }
    if opt.kids {
        for (leaf, chunk) in leaves.iter().zip(specs.chunks(2)) {
            let mut node = pdf.name_tree::<Ref>(*leaf);
            let mut entries = node.names();
            for (k, spec) in chunk {
                entries.insert(Str(k), *spec);
            }
        }
    }
    pdf.pages(page_tree_id).kids([page_id]).count(1);
    pdf.page(page_id)
        .parent(page_tree_id)
        .media_box(Rect::new(0.0, 0.0, 595.0, 842.0))
        .resources();
    if opt.xref_stream {
        pdf.finish_with_xref_stream(Ref::new(900))
    } else {
        pdf.finish()
    }
}

fn certificate(files: &[(&str, &[u8])]) -> Vec<u8> {
    certificate_with(files, Options::default())
}

/// Every byte value, a fake `endstream` and `%%EOF`, CR LF and parentheses: data a parser must
/// not interpret.
fn binary() -> Vec<u8> {
    let mut b: Vec<u8> = (0..=255u8).collect();
    b.extend_from_slice(b"\nendstream\nendobj\n%%EOF\r\n() ( \\");
    b.extend((0..=255u8).rev());
    b
}

fn found(pdf: &[u8]) -> Vec<(String, Vec<u8>)> {
    attachments(pdf)
        .unwrap()
        .into_iter()
        .map(|a| (a.name, a.bytes))
        .collect()
}

fn expected(files: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    files
        .iter()
        .map(|(n, b)| ((*n).to_owned(), b.to_vec()))
        .collect()
}

const BUNDLE: &[u8] = br#"{"version":2,"statement":"delivered-within/v2","proof":"AAEC"}"#;

// ---------------------------------------------------------------------------------------------
// PDFs written by hand.

/// A PDF with `objects[i]` as object `i + 1` (generation 0), a classic cross-reference table
/// and a trailer `<< /Size n /Root 1 0 R {trailer} >>`.
fn handmade(objects: &[Vec<u8>], trailer: &str) -> Vec<u8> {
    // A binary comment of bytes over 0x7F, which is valid UTF-8 so that tests can edit the
    // file as text without moving offsets.
    let mut out = "%PDF-1.7\n%\u{e2}\u{e3}\u{cf}\u{d3}\n".as_bytes().to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f\r\n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n\r\n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer} >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn o(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A stream object body: `<< {dict} /Length n >>`, `stream`, LF, `data`, LF, `endstream`.
fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut s = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    s.extend(data);
    s.extend(b"\nendstream");
    s
}

/// The objects of a handmade certificate with one attachment `a.json`: catalog 1, file
/// specification 2, stream 3.
fn one_file_objects(data: &[u8]) -> Vec<Vec<u8>> {
    vec![
        o("<< /Type /Catalog /Names << /EmbeddedFiles << /Names [(a.json) 2 0 R] >> >> >>"),
        o("<< /Type /Filespec /F (a.json) /UF (a.json) /EF << /F 3 0 R >> >>"),
        stream("/Type /EmbeddedFile", data),
    ]
}

/// The offset after the last `startxref`.
fn last_startxref(pdf: &[u8]) -> usize {
    let at = pdf.windows(9).rposition(|w| w == b"startxref").unwrap();
    let digits: String = pdf[at + 9..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .map(|b| char::from(*b))
        .collect();
    digits.parse().unwrap()
}

/// `base` with an incremental update appended: each `(num, Some(body))` (re)defines object
/// `num 0`, each `(num, None)` frees it; a trailer with `/Prev` and `/Root 1 0 R`.
fn update(base: &[u8], objects: &[(u32, Option<Vec<u8>>)]) -> Vec<u8> {
    let prev = last_startxref(base);
    let mut out = base.to_vec();
    out.push(b'\n');
    let mut entries = Vec::new();
    for (num, body) in objects {
        match body {
            Some(body) => {
                entries.push((*num, format!("{:010} 00000 n\r\n", out.len())));
                out.extend(format!("{num} 0 obj\n").as_bytes());
                out.extend(body);
                out.extend(b"\nendobj\n");
            }
            None => entries.push((*num, "0000000000 00001 f\r\n".to_owned())),
        }
    }
    let xref = out.len();
    out.extend(b"xref\n");
    for (num, entry) in entries {
        out.extend(format!("{num} 1\n{entry}").as_bytes());
    }
    out.extend(
        format!("trailer\n<< /Size 1000 /Root 1 0 R /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n")
            .as_bytes(),
    );
    out
}

/// What every `Ok` must satisfy, whatever the input.
fn check_invariants(result: &Result<Vec<Attachment>, PdfError>) {
    match result {
        Ok(found) => {
            assert!(found.len() <= MAX_ATTACHMENTS);
            for (i, a) in found.iter().enumerate() {
                assert!(!a.name.is_empty());
                assert!(!a.name.chars().any(char::is_control), "{:?}", a.name);
                assert!(a.bytes.len() <= MAX_ATTACHMENT_BYTES);
                assert!(found[..i].iter().all(|b| b.name != a.name), "{:?}", a.name);
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

fn object(num: u32) -> ObjectId {
    ObjectId { num, gen: 0 }
}

// ---------------------------------------------------------------------------------------------
// Found exactly.

#[test]
fn is_pdf_checks_the_header() {
    assert!(is_pdf(&certificate(&[])));
    assert!(is_pdf(b"%PDF-2.0"));
    assert!(!is_pdf(b"%PDF"));
    assert!(!is_pdf(b" %PDF-1.7"));
    assert!(!is_pdf(BUNDLE));
}

#[test]
fn one_attachment_written_by_pdf_writer() {
    let files: &[(&str, &[u8])] = &[("bundle.json", BUNDLE)];
    let pdf = certificate(files);
    assert_eq!(found(&pdf), expected(files));
    // The same with /EF << /F R /UF R >>.
    let pdf = certificate_with(
        files,
        Options {
            unicode_ef: true,
            ..Options::default()
        },
    );
    assert_eq!(found(&pdf), expected(files));
}

#[test]
fn three_attachments_with_unicode_names_and_binary_bytes() {
    let binary = binary();
    let files: &[(&str, &[u8])] = &[
        ("bundle.json", BUNDLE),
        ("évidence – Ω 証拠.json", b"{\"note\":\"(unbalanced\"}\r\n"),
        ("binary 😀.bin", &binary),
    ];
    for unicode_ef in [false, true] {
        let pdf = certificate_with(
            files,
            Options {
                unicode_ef,
                ..Options::default()
            },
        );
        assert_eq!(found(&pdf), expected(files));
    }
    // An empty attachment is an attachment.
    let files: &[(&str, &[u8])] = &[("empty.json", b"")];
    assert_eq!(found(&certificate(files)), expected(files));
}

#[test]
fn name_tree_with_kids() {
    let names: Vec<String> = (0..7).map(|i| format!("part-{i}.json")).collect();
    let data: Vec<Vec<u8>> = (0..7)
        .map(|i| format!("{{\"part\":{i}}}").into_bytes())
        .collect();
    let files: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&data)
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let pdf = certificate_with(
        &files,
        Options {
            kids: true,
            ..Options::default()
        },
    );
    assert!(pdf.windows(5).any(|w| w == b"/Kids"));
    assert_eq!(found(&pdf), expected(&files));
}

#[test]
fn no_names_means_no_attachments() {
    assert_eq!(found(&certificate(&[])), vec![]);
    let pdf = handmade(&[o("<< /Type /Catalog /Pages 2 0 R >>"), o("<< >>")], "");
    assert_eq!(found(&pdf), vec![]);
    let pdf = handmade(
        &[
            o("<< /Type /Catalog /Names << /Dests 2 0 R >> >>"),
            o("<< >>"),
        ],
        "",
    );
    assert_eq!(found(&pdf), vec![]);
}

#[test]
fn literal_and_hex_string_names_are_decoded() {
    let cases: &[(&str, &str)] = &[
        // Escapes: \( \) \\, octal (1 to 3 digits), a line continuation, nested parentheses.
        (
            r"(a\(b\)\\c\101\1022 (x) \
d.json)",
            r"a(b)\cAB2 (x) d.json",
        ),
        // Octal overflow is modulo 256: \501 is 0x41 'A'; an unknown escape is the byte itself.
        (r"(\501\q.json)", "Aq.json"),
        // PDFDocEncoding: 0x80 is a bullet, 0xA0 the euro sign, 0xE9 é.
        (r"(\200 \240 \351.json)", "• € é.json"),
        // Hex strings: UTF-16BE with its BOM (é, then 😀 as a surrogate pair), odd last digit.
        ("<FEFF00E9 D83DDE00002E006A>", "é😀.j"),
        ("<41 42 4>", "AB@"),
        // UTF-8 with its BOM (PDF 2.0).
        ("<EFBBBF C3A9 2E 6A>", "é.j"),
    ];
    for (written, name) in cases {
        let pdf = handmade(
            &[
                o("<< /Type /Catalog /Names << /EmbeddedFiles 4 0 R >> >>"),
                format!("<< /Type /Filespec /UF {written} /EF << /UF 3 0 R >> >>").into_bytes(),
                stream("", b"{}"),
                o("<< /Names [(key) 2 0 R] >>"),
            ],
            "",
        );
        assert_eq!(
            found(&pdf),
            vec![((*name).to_owned(), b"{}".to_vec())],
            "{written}"
        );
    }
    // Without /UF the name is /F.
    let pdf = handmade(
        &[
            o("<</Type/Catalog/Names<</EmbeddedFiles<</Names[<6B6579>2 0 R]>>>>>>"),
            o("<</Type/Filespec/F(only-f.json)/EF<</F 3 0 R>>>>"),
            stream("/Type/EmbeddedFile", b"[]"),
        ],
        "",
    );
    assert_eq!(
        found(&pdf),
        vec![("only-f.json".to_owned(), b"[]".to_vec())]
    );
}

#[test]
fn names_with_escapes_comments_and_indirect_values() {
    // A name with #xx escapes as the key of a dictionary, comments between tokens, an
    // indirect /Names, /EF, name and /Length, and CR LF after `stream`.
    let mut s = b"<< /Type /Embedded#46ile /Length 4 0 R >>\nstream\r\n".to_vec();
    s.extend(b"\r\nhi\r");
    s.extend(b"\nendstream");
    let pdf = handmade(
        &[
            o("<< /Type /Catalog % the catalog\n /N#61mes 5 0 R /Pages null /Extra [true false 1.5 -.5 +3 (x)] >>"),
            o("<< /Type /Filespec /UF 6 0 R /EF 7 0 R >>"),
            s,
            o("5"),
            o("<< /EmbeddedFiles << /Names 8 0 R >> >>"),
            o("(indirect.json)"),
            o("<< /F 3 0 R /UF 3 0 R >>"),
            o("[(k) 2 0 R]"),
        ],
        "",
    );
    assert_eq!(
        found(&pdf),
        vec![("indirect.json".to_owned(), b"\r\nhi\r".to_vec())]
    );
}

// ---------------------------------------------------------------------------------------------
// Incremental updates.

#[test]
fn incremental_update_replaces_an_attachment() {
    let base = certificate(&[("bundle.json", BUNDLE)]);
    // Object 11 is the embedded file stream.
    let new = br#"{"version":2,"replaced":true}"#;
    let updated = update(
        &base,
        &[(
            11,
            Some(stream(
                "/Type /EmbeddedFile /Subtype /application#2Fjson",
                new,
            )),
        )],
    );
    assert_eq!(
        found(&updated),
        vec![("bundle.json".to_owned(), new.to_vec())]
    );
    // The original revision is still there, as a prefix.
    assert_eq!(
        found(&updated[..base.len()]),
        vec![("bundle.json".to_owned(), BUNDLE.to_vec())]
    );
}

#[test]
fn incremental_update_adds_an_attachment() {
    let base = certificate(&[("bundle.json", BUNDLE)]);
    let signature = b"{\"signature\":\"...\"}";
    let catalog = "<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(bundle.json) 10 0 R (signature.json) 20 0 R] >> >> >>";
    let updated = update(
        &base,
        &[
            (1, Some(o(catalog))),
            (20, Some(o("<< /Type /Filespec /F (signature.json) /UF (signature.json) /EF << /F 21 0 R /UF 21 0 R >> >>"))),
            (21, Some(stream("/Type /EmbeddedFile", signature))),
        ],
    );
    assert_eq!(
        found(&updated),
        vec![
            ("bundle.json".to_owned(), BUNDLE.to_vec()),
            ("signature.json".to_owned(), signature.to_vec()),
        ]
    );
    // A second update on top: three sections, the newest definition of object 21 wins.
    let twice = update(&updated, &[(21, Some(stream("", b"v3")))]);
    assert_eq!(
        found(&twice)[1],
        ("signature.json".to_owned(), b"v3".to_vec())
    );
    assert_eq!(
        found(&twice)[0],
        ("bundle.json".to_owned(), BUNDLE.to_vec())
    );
}

#[test]
fn incremental_update_free_entry_deletes_an_object() {
    let base = certificate(&[("bundle.json", BUNDLE)]);
    // The name tree still points at the freed file specification.
    let freed = update(&base, &[(10, None)]);
    assert_eq!(
        attachments(&freed),
        Err(PdfError::MissingObject { object: object(10) })
    );
    // A new catalog without the attachment, and its objects freed.
    let removed = update(
        &base,
        &[
            (1, Some(o("<< /Type /Catalog /Pages 2 0 R >>"))),
            (10, None),
            (11, None),
        ],
    );
    assert_eq!(found(&removed), vec![]);
}

// ---------------------------------------------------------------------------------------------
// Refusals.

#[test]
fn refuses_what_is_not_a_pdf() {
    assert_eq!(attachments(BUNDLE), Err(PdfError::NotPdf));
    assert_eq!(attachments(b""), Err(PdfError::NotPdf));
    let e = attachments(b"%PDF-1.7\n").unwrap_err();
    assert_eq!(e, PdfError::NoStartXref);
}

#[test]
fn refuses_a_file_without_startxref_at_its_end() {
    let pdf = certificate(&[("bundle.json", BUNDLE)]);
    assert!(found(&pdf).len() == 1);
    // Truncated in the offset, before %%EOF, in %%EOF.
    for cut in [pdf.len() - 1, pdf.len() - 6, pdf.len() - 9] {
        assert_eq!(
            attachments(&pdf[..cut]),
            Err(PdfError::NoStartXref),
            "{cut}"
        );
    }
    // Data after %%EOF (white space is fine).
    let mut trailing = pdf.clone();
    trailing.extend(b"\r\n \n");
    assert_eq!(found(&trailing).len(), 1);
    trailing.extend(b"garbage");
    assert_eq!(attachments(&trailing), Err(PdfError::NoStartXref));
    // No startxref at all.
    let no_keyword: Vec<u8> = String::from_utf8_lossy(&pdf)
        .replace("startxref", "startXref")
        .into_bytes();
    assert_eq!(attachments(&no_keyword), Err(PdfError::NoStartXref));
}

#[test]
fn refuses_a_cross_reference_stream() {
    let pdf = certificate_with(
        &[("bundle.json", BUNDLE)],
        Options {
            xref_stream: true,
            ..Options::default()
        },
    );
    let e = attachments(&pdf).unwrap_err();
    assert!(
        matches!(&e, PdfError::Compressed { what } if what.contains("/XRef")),
        "{e}"
    );
    assert!(e.to_string().starts_with(
        "compressed object streams are not supported: letro-verify reads certificates as Letro writes them"
    ));
}

#[test]
fn refuses_a_hybrid_trailer_and_object_streams() {
    let pdf = handmade(&one_file_objects(b"{}"), "/XRefStm 12");
    let e = attachments(&pdf).unwrap_err();
    assert!(
        matches!(&e, PdfError::Compressed { what } if what.contains("/XRefStm")),
        "{e}"
    );
    // The attachment's stream is an object stream.
    let pdf = handmade(
        &[
            one_file_objects(b"").remove(0),
            one_file_objects(b"").remove(1),
            stream("/Type /ObjStm /N 1 /First 4", b"4 0 (x)"),
        ],
        "",
    );
    let e = attachments(&pdf).unwrap_err();
    assert!(
        matches!(&e, PdfError::Compressed { what } if what.contains("/ObjStm") && what.contains("object 3 0")),
        "{e}"
    );
}

#[test]
fn refuses_a_filtered_attachment() {
    let pdf = certificate_with(
        &[("bundle.json", BUNDLE)],
        Options {
            flate: true,
            ..Options::default()
        },
    );
    let e = attachments(&pdf).unwrap_err();
    assert_eq!(
        e,
        PdfError::Filter {
            name: "bundle.json".into(),
            object: object(11),
            filter: "/FlateDecode".into(),
        }
    );
    assert!(e.to_string().contains("/FlateDecode"));
    // A filter array is refused too; an empty one means no filter.
    let mut objects = one_file_objects(b"{}");
    objects[2] = stream("/Filter [/ASCIIHexDecode /FlateDecode]", b"{}");
    let e = attachments(&handmade(&objects, "")).unwrap_err();
    assert!(
        matches!(&e, PdfError::Filter { filter, .. } if filter == "[/ASCIIHexDecode /FlateDecode]"),
        "{e}"
    );
    objects[2] = stream("/Filter []", b"{}");
    assert_eq!(found(&handmade(&objects, "")).len(), 1);
}

#[test]
fn refuses_an_encrypted_pdf() {
    let pdf = handmade(
        &one_file_objects(b"{}"),
        "/Encrypt << /Filter /Standard /V 4 >>",
    );
    let e = attachments(&pdf).unwrap_err();
    assert!(
        matches!(e, PdfError::Encrypted { offset } if offset == last_startxref(&pdf)),
        "{e}"
    );
    // Also when only an older section's trailer says so.
    let mut older = handmade(&one_file_objects(b"{}"), "/Encrypt 9 0 R");
    older = update(&older, &[(3, Some(stream("", b"[]")))]);
    assert!(matches!(
        attachments(&older),
        Err(PdfError::Encrypted { .. })
    ));
}

#[test]
fn refuses_two_attachments_with_the_same_name() {
    // Written with pdf-writer: the name tree has the same key twice.
    let pdf = certificate(&[("bundle.json", BUNDLE), ("bundle.json", b"{}")]);
    assert_eq!(
        attachments(&pdf),
        Err(PdfError::DuplicateKey("bundle.json".into()))
    );
    // The same name written differently (literal, and UTF-16BE), under different keys.
    let pdf = handmade(
        &[
            o("<< /Type /Catalog /Names << /EmbeddedFiles << /Names [(a) 2 0 R (b) 4 0 R] >> >> >>"),
            o("<< /Type /Filespec /UF (x.json) /EF << /F 3 0 R >> >>"),
            stream("", b"1"),
            o("<< /Type /Filespec /UF <FEFF0078002E006A0073006F006E> /EF << /F 3 0 R >> >>"),
        ],
        "",
    );
    assert_eq!(
        attachments(&pdf),
        Err(PdfError::DuplicateName("x.json".into()))
    );
    // The same key twice.
    let pdf = handmade(
        &[
            o("<< /Type /Catalog /Names << /EmbeddedFiles << /Names [(a) 2 0 R (a) 4 0 R] >> >> >>"),
            o("<< /Type /Filespec /UF (x.json) /EF << /F 3 0 R >> >>"),
            stream("", b"1"),
            o("<< /Type /Filespec /UF (y.json) /EF << /F 3 0 R >> >>"),
        ],
        "",
    );
    assert_eq!(attachments(&pdf), Err(PdfError::DuplicateKey("a".into())));
    // Keys that are the same once an unescaped CR LF in a literal string is read as LF.
    let pdf = handmade(
        &[
            o("<< /Type /Catalog /Names << /EmbeddedFiles << /Names [(a\r\nb) 2 0 R (a\nb) 4 0 R] >> >> >>"),
            o("<< /Type /Filespec /UF (x.json) /EF << /F 3 0 R >> >>"),
            stream("", b"1"),
            o("<< /Type /Filespec /UF (y.json) /EF << /F 3 0 R >> >>"),
        ],
        "",
    );
    assert!(matches!(attachments(&pdf), Err(PdfError::DuplicateKey(_))));
}

#[test]
fn refuses_an_object_that_is_not_at_its_offset() {
    let pdf = handmade(&one_file_objects(b"{}"), "");
    let text = String::from_utf8_lossy(&pdf).into_owned();
    let at = text.find("2 0 obj").unwrap();
    // Object 2's entry is the third of the table; move it one byte forward, then backward.
    for moved in [at + 1, at - 1] {
        let good = format!("{at:010} 00000 n\r\n");
        let bad = format!("{moved:010} 00000 n\r\n");
        let pdf = text.replacen(&good, &bad, 1).into_bytes();
        assert_eq!(
            attachments(&pdf),
            Err(PdfError::ObjectMismatch {
                object: object(2),
                offset: moved
            })
        );
    }
    // Beyond the end of the file.
    let good = format!("{at:010} 00000 n\r\n");
    let pdf = text
        .replacen(&good, "9999999999 00000 n\r\n", 1)
        .into_bytes();
    assert!(matches!(
        attachments(&pdf),
        Err(PdfError::ObjectMismatch {
            offset: 9_999_999_999,
            ..
        })
    ));
    // An offset in the middle of `12 0 obj`, where `2 0 obj` follows: not the start of a token.
    let mut objects = one_file_objects(b"{}");
    objects.extend(std::iter::repeat_n(o("null"), 8));
    objects.push(objects[1].clone());
    let twelve = String::from_utf8(handmade(&objects, "")).unwrap();
    let at12 = twelve.find("12 0 obj").unwrap();
    let at2 = twelve.find("2 0 obj").unwrap();
    let pdf = twelve
        .replacen(
            &format!("{at2:010} 00000 n\r\n"),
            &format!("{:010} 00000 n\r\n", at12 + 1),
            1,
        )
        .into_bytes();
    assert_eq!(
        attachments(&pdf),
        Err(PdfError::ObjectMismatch {
            object: object(2),
            offset: at12 + 1
        })
    );
    // The right offset with another generation than the reference's.
    let pdf = text
        .replacen(&good, &format!("{at:010} 00001 n\r\n"), 1)
        .into_bytes();
    assert_eq!(
        attachments(&pdf),
        Err(PdfError::MissingObject { object: object(2) })
    );
}

#[test]
fn refuses_wrong_stream_lengths() {
    let data = b"{\"a\":1}";
    for (length, problem) in [
        ("1000000", "runs past the end of the file"),
        ("99999999999999999", "runs past the end of the file"),
        ("6", "is not followed by `endstream`"),
        ("9", "is not followed by `endstream`"),
        ("-1", "is negative"),
    ] {
        let mut objects = one_file_objects(data);
        let mut s = format!("<< /Length {length} >>\nstream\n").into_bytes();
        s.extend(data);
        s.extend(b"\nendstream");
        objects[2] = s;
        let e = attachments(&handmade(&objects, "")).unwrap_err();
        assert!(
            matches!(&e, PdfError::StreamLength { object: o, problem: p, .. } if *o == object(3) && *p == problem),
            "{length}: {e}"
        );
    }
    // A /Length that is not an integer.
    let mut objects = one_file_objects(data);
    objects[2] = o("<< /Length /Seven >>\nstream\n{\"a\":1}\nendstream");
    assert!(
        matches!(attachments(&handmade(&objects, "")), Err(PdfError::Structure { object: o, .. }) if o == object(3))
    );
}

#[test]
fn refuses_deep_nesting() {
    let deep = |n: usize| {
        format!(
            "<< /Type /Catalog /Deep {}{} >>",
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    // 31 arrays inside the catalog's dictionary: 32 levels.
    assert_eq!(found(&handmade(&[o(&deep(31))], "")), vec![]);
    assert!(matches!(
        attachments(&handmade(&[o(&deep(32))], "")),
        Err(PdfError::TooDeep { .. })
    ));
    assert!(matches!(
        attachments(&handmade(&[o(&deep(10_000))], "")),
        Err(PdfError::TooDeep { .. })
    ));
}

#[test]
fn refuses_a_deep_name_tree() {
    // Catalog 1 -> node 2 -> node 3 -> ... -> node n (a leaf).
    let tree = |levels: u32| {
        let mut objects = vec![o("<< /Type /Catalog /Names << /EmbeddedFiles 2 0 R >> >>")];
        for i in 2..=levels {
            objects.push(format!("<< /Kids [{} 0 R] >>", i + 1).into_bytes());
        }
        objects.push(o("<< /Names [] >>"));
        handmade(&objects, "")
    };
    assert_eq!(found(&tree(32)), vec![]);
    assert_eq!(
        attachments(&tree(33)),
        Err(PdfError::TreeTooDeep { object: object(34) })
    );
    // A loop in /Kids.
    let pdf = handmade(
        &[
            o("<< /Type /Catalog /Names << /EmbeddedFiles 2 0 R >> >>"),
            o("<< /Kids [3 0 R] >>"),
            o("<< /Kids [2 0 R] >>"),
        ],
        "",
    );
    assert!(
        matches!(attachments(&pdf), Err(PdfError::Structure { object: o, .. }) if o == object(2))
    );
}

#[test]
fn refuses_more_than_64_attachments() {
    let names: Vec<String> = (0..=MAX_ATTACHMENTS)
        .map(|i| format!("{i:03}.json"))
        .collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"{}"[..])).collect();
    assert_eq!(
        found(&certificate(&files[..MAX_ATTACHMENTS])).len(),
        MAX_ATTACHMENTS
    );
    assert_eq!(
        attachments(&certificate(&files)),
        Err(PdfError::TooManyAttachments)
    );
    let kids = Options {
        kids: true,
        ..Options::default()
    };
    assert_eq!(
        attachments(&certificate_with(&files, kids)),
        Err(PdfError::TooManyAttachments)
    );
}

#[test]
fn refuses_an_attachment_over_1_mib() {
    let limit = vec![b'7'; MAX_ATTACHMENT_BYTES];
    assert_eq!(
        found(&certificate(&[("big.json", &limit)]))[0].1.len(),
        MAX_ATTACHMENT_BYTES
    );
    let over = vec![b'7'; MAX_ATTACHMENT_BYTES + 1];
    assert_eq!(
        attachments(&certificate(&[("big.json", &over)])),
        Err(PdfError::TooLarge {
            name: "big.json".into(),
            size: MAX_ATTACHMENT_BYTES + 1
        })
    );
}

#[test]
fn refuses_a_prev_chain_that_loops_or_is_too_long() {
    let pdf = handmade(&one_file_objects(b"{}"), "");
    let xref = last_startxref(&pdf);
    let looping = handmade(&one_file_objects(b"{}"), &format!("/Prev {xref}"));
    assert!(matches!(attachments(&looping), Err(PdfError::Xref { offset, .. }) if offset == xref));
    let mut long = pdf.clone();
    for _ in 0..32 {
        long = update(&long, &[(3, Some(stream("", b"x")))]);
    }
    let e = attachments(&long).unwrap_err();
    assert!(
        matches!(&e, PdfError::Xref { what, .. } if what.contains("more than 32")),
        "{e}"
    );
    // 32 sections are fine.
    let mut ok = pdf;
    for _ in 0..31 {
        ok = update(&ok, &[(3, Some(stream("", b"x")))]);
    }
    assert_eq!(found(&ok), vec![("a.json".to_owned(), b"x".to_vec())]);
    // A /Prev that does not point at `xref`.
    let bad = handmade(&one_file_objects(b"{}"), "/Prev 3");
    assert!(matches!(
        attachments(&bad),
        Err(PdfError::Xref { offset: 3, .. })
    ));
}

#[test]
fn refuses_malformed_cross_reference_tables() {
    let pdf = String::from_utf8_lossy(&handmade(&one_file_objects(b"{}"), "")).into_owned();
    for (from, to) in [
        ("65535 f\r\n", "65535 f\n"),   // a 19-byte entry
        ("00000 n\r\n", "00000 x\r\n"), // neither n nor f
        ("xref\n0 4", "xref\n0 5"),     // more entries than there are
        ("xref\n0 4", "xref\n0 -4"),
        ("xref\n0 4", "xref\n0"),
        ("trailer", "trailor"),
    ] {
        let bad = pdf.replacen(from, to, 1).into_bytes();
        assert!(
            matches!(attachments(&bad), Err(PdfError::Xref { .. })),
            "{to:?}"
        );
    }
    // The same object twice in one section.
    let bad = pdf
        .replacen("trailer", "3 1\n0000000000 65535 f\r\ntrailer", 1)
        .into_bytes();
    let e = attachments(&bad).unwrap_err();
    assert!(
        matches!(&e, PdfError::Xref { what, .. } if what.contains("object 3 is listed twice")),
        "{e}"
    );
    // startxref pointing into the middle of the keyword.
    let xref = last_startxref(pdf.as_bytes());
    let bad = pdf.replace(
        &format!("startxref\n{xref}"),
        &format!("startxref\n{}", xref + 1),
    );
    assert!(matches!(
        attachments(bad.as_bytes()),
        Err(PdfError::Xref { .. })
    ));
    // No /Root.
    let bad = pdf.replace("/Root 1 0 R", "/Info 1 0 R").into_bytes();
    assert!(
        matches!(attachments(&bad), Err(PdfError::Xref { what, .. }) if what.contains("/Root"))
    );
}

#[test]
fn refuses_ambiguous_or_malformed_structures() {
    let with = |objects: Vec<Vec<u8>>| attachments(&handmade(&objects, "")).unwrap_err();
    let structure = |e: &PdfError, n: u32, text: &str| {
        assert!(
            matches!(e, PdfError::Structure { object: o, what } if *o == object(n) && what.contains(text)),
            "{e}"
        );
    };
    let base = one_file_objects(b"{}");
    let replaced = |i: usize, body: &str| {
        let mut objects = base.clone();
        objects[i] = o(body);
        objects
    };
    // /EF names two different streams.
    let mut two = replaced(
        1,
        "<< /Type /Filespec /UF (a.json) /EF << /F 3 0 R /UF 4 0 R >> >>",
    );
    two.push(stream("", b"other"));
    structure(&with(two), 2, "two different streams");
    // /Params /Size disagrees with the stream.
    let mut objects = base.clone();
    objects[2] = stream("/Params << /Size 3 >>", b"{}");
    structure(&with(objects), 3, "/Params /Size");
    // Names: a control character, empty, undefined PDFDocEncoding, bad UTF-16.
    for (name, text) in [
        (r"(a\nb)", "control character"),
        ("()", "is empty"),
        (r"(\237)", "0x9F"),
        ("<FEFFD800>", "unpaired surrogate"),
        ("<FEFF00>", "odd number"),
    ] {
        let e = with(replaced(
            1,
            &format!("<< /Type /Filespec /UF {name} /EF << /F 3 0 R >> >>"),
        ));
        structure(&e, 2, text);
    }
    // A file specification that is a string, or without /Type /Filespec, /EF, or a name.
    let e = with(replaced(
        0,
        "<< /Type /Catalog /Names << /EmbeddedFiles << /Names [(a.json) (a.json)] >> >> >>",
    ));
    structure(&e, 1, "a string");
    structure(
        &with(replaced(1, "<< /UF (a.json) /EF << /F 3 0 R >> >>")),
        2,
        "/Filespec",
    );
    structure(
        &with(replaced(1, "<< /Type /Filespec /UF (a.json) >>")),
        2,
        "no /EF",
    );
    structure(
        &with(replaced(1, "<< /Type /Filespec /EF << /F 3 0 R >> >>")),
        2,
        "neither /UF nor /F",
    );
    // Data in another file.
    let mut objects = base.clone();
    objects[2] = stream("/F (other.json)", b"");
    structure(&with(objects), 3, "another file");
    // A name tree node with both /Names and /Kids, or neither; an odd /Names.
    for (node, text) in [
        ("<< /Names [] /Kids [] >>", "both"),
        ("<< >>", "neither"),
        ("<< /Names [(a.json)] >>", "odd number"),
    ] {
        let e = with(replaced(
            0,
            &format!("<< /Type /Catalog /Names << /EmbeddedFiles {node} >> >>"),
        ));
        structure(&e, 1, text);
    }
    // The catalog is not a catalog.
    structure(&with(replaced(0, "<< /Type /Pages >>")), 1, "/Catalog");
    // A stream where a dictionary is expected, and a reference to a reference.
    structure(
        &with(replaced(1, "<< /Type /Filespec /UF (a.json) /EF 3 0 R >>")),
        3,
        "is a stream",
    );
    let mut chain = replaced(1, "4 0 R");
    chain.push(o("<< >>"));
    structure(&with(chain), 2, "only a reference");
    // A reference to an object that does not exist.
    assert_eq!(
        with(replaced(
            1,
            "<< /Type /Filespec /UF (a.json) /EF << /F 9 0 R >> >>"
        )),
        PdfError::MissingObject { object: object(9) }
    );
}

#[test]
fn refuses_malformed_syntax() {
    for catalog in [
        "<< /Type /Catalog /Type /Catalog >>", // a key twice
        "<< /Type /Catalog /A (unterminated >>",
        "<< /Type /Catalog /A <4G> >>",
        "<< /Type /Catalog /A#4 1 >>",
        "<< /Type /Catalog /A#00 1 >>",
        "<< /Type /Catalog /A 1.2.3 >>",
        "<< /Type /Catalog /A 99999999999999999999 >>",
        "<< /Type /Catalog /A 0 0 R >>",
        "<< /Type /Catalog /A 1 70000 R >>",
        "<< /Type /Catalog /A { } >>",
        "<< /Type /Catalog /A ] >>",
        "<< /Type /Catalog 1 2 >>",
        "<< /Type /Catalog /A [1 2 >>",
        "<< /Type /Catalog /A bogus >>",
        "<< /Type /Catalog >> trailing",
    ] {
        let e = attachments(&handmade(&[o(catalog)], "")).unwrap_err();
        assert!(matches!(e, PdfError::Syntax { .. }), "{catalog}: {e}");
        assert!(
            e.to_string().starts_with("malformed PDF syntax at byte "),
            "{e}"
        );
    }
    // `stream` must be followed by CR LF or LF, not CR alone.
    let mut objects = one_file_objects(b"{}");
    objects[2] = o("<< /Length 2 >>\nstream\r{}\nendstream");
    assert!(matches!(
        attachments(&handmade(&objects, "")),
        Err(PdfError::Syntax { .. })
    ));
}

#[test]
fn refuses_files_that_take_too_much_work() {
    // More objects than MAX_OBJECTS in one array.
    let big = format!("<< /Type /Catalog /Big [{}] >>", "0 ".repeat(MAX_OBJECTS));
    let e = attachments(&handmade(&[o(&big)], "")).unwrap_err();
    assert!(
        matches!(&e, PdfError::TooComplex { what } if what.contains("objects")),
        "{e}"
    );
    // Name tree leaves 2, 3, ... nested in one another's strings: each one read is read again
    // with all the leaves inside it.
    let nested = |leaves: u32| {
        let mut body = format!("({})", "x".repeat(100_000));
        for i in (2..2 + leaves).rev() {
            body = format!("{i} 0 obj << /Names [] /P ({body}) >> endobj");
        }
        let kids: Vec<String> = (2..2 + leaves).map(|i| format!("{i} 0 R")).collect();
        let mut text = "%PDF-1.7\n".to_owned();
        let catalog = text.len();
        text += &format!(
            "1 0 obj << /Type /Catalog /Names << /EmbeddedFiles << /Kids [{}] >> >> >> endobj\n",
            kids.join(" ")
        );
        let first = text.len();
        text += &body;
        let xref = text.len();
        text += &format!(
            "\nxref\n0 {}\n0000000000 65535 f\r\n{catalog:010} 00000 n\r\n",
            leaves + 2
        );
        for i in 2..2 + leaves {
            let at = if i == 2 {
                first
            } else {
                text.find(&format!("({i} 0 obj")).unwrap() + 1
            };
            text += &format!("{at:010} 00000 n\r\n");
        }
        text += &format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{}\n%%EOF\n",
            leaves + 2,
            xref + 1
        );
        text.into_bytes()
    };
    assert_eq!(found(&nested(1)), vec![]);
    assert_eq!(found(&nested(2)), vec![]);
    let e = attachments(&nested(40)).unwrap_err();
    assert!(
        matches!(&e, PdfError::TooComplex { what } if what.contains("overlap")),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Truncated, corrupted and random files.

#[test]
fn truncation_never_panics() {
    let binary = binary();
    let files: &[(&str, &[u8])] = &[("bundle.json", BUNDLE), ("binary.bin", &binary)];
    let pdf = certificate(files);
    let cuts = (0..pdf.len()).step_by(97).chain(pdf.len() - 64..pdf.len());
    for cut in cuts {
        let result = attachments(&pdf[..cut]);
        check_invariants(&result);
        // A single revision cut anywhere has lost its `%%EOF`.
        assert!(result.is_err(), "{cut}");
    }
    // With an update appended, the prefix that ends at the original's %%EOF is the original.
    let updated = update(&pdf, &[(11, Some(stream("", b"new")))]);
    let mut whole = 0;
    for cut in (0..=updated.len()).step_by(13) {
        let result = attachments(&updated[..cut]);
        check_invariants(&result);
        whole += usize::from(result.is_ok());
    }
    assert_eq!(found(&updated[..pdf.len()]), expected(files));
    assert_eq!(found(&updated)[0].1, b"new");
    assert!(whole <= 2);
}

/// Whether each attachment of `got` is one of `original`'s with at most one byte changed (in
/// its bytes or in its name): a one-byte change never invents an attachment.
fn plausible(original: &[Attachment], got: &[Attachment]) -> bool {
    let one_byte_off = |a: &[u8], b: &[u8]| {
        a.len() == b.len() && a.iter().zip(b).filter(|(x, y)| x != y).count() <= 1
    };
    got.len() <= original.len()
        && got.iter().all(|g| {
            original.iter().any(|o| {
                (o.name == g.name && one_byte_off(&o.bytes, &g.bytes)) || o.bytes == g.bytes
            })
        })
}

#[test]
fn byte_flips_never_panic_nor_invent_attachments() {
    let files: &[(&str, &[u8])] = &[
        ("bundle.json", BUNDLE),
        ("évidence.json", b"{\"e\":[1,2,3]}"),
        ("z.bin", &[0, 1, 2, 0xff, b'(', b')', b'\\']),
    ];
    let pdf = certificate_with(
        files,
        Options {
            unicode_ef: true,
            ..Options::default()
        },
    );
    let original = attachments(&pdf).unwrap();
    let (mut ok, mut err) = (0, 0);
    for at in 0..pdf.len() {
        for mask in [0x01, 0x20, 0x80, 0xff] {
            let mut bad = pdf.clone();
            bad[at] ^= mask;
            let result = attachments(&bad);
            check_invariants(&result);
            match result {
                Ok(got) => {
                    ok += 1;
                    assert!(plausible(&original, &got), "byte {at} ^ {mask:#x}: {got:?}");
                }
                Err(_) => err += 1,
            }
        }
    }
    // Both happen: flips in the page or the file's /Desc change nothing, flips in the
    // structure are refused.
    assert!(ok > 0 && err > 0, "{ok} {err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut pdf = b"%PDF-1.7\n".to_vec();
        pdf.extend(&tail);
        let result = attachments(&pdf);
        check_invariants(&result);
        if !pdf.windows(5).any(|w| w == b"%%EOF") {
            prop_assert_eq!(result, Err(PdfError::NoStartXref));
        }
    }

    #[test]
    fn random_splices_never_panic(
        at in 0usize..4000,
        bytes in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let pdf = certificate(&[("bundle.json", BUNDLE), ("b.json", b"{}")]);
        let mut bad = pdf.clone();
        let at = at % pdf.len();
        for (i, b) in bytes.iter().enumerate() {
            if let Some(x) = bad.get_mut(at + i) {
                *x = *b;
            }
        }
        let result = attachments(&bad);
        check_invariants(&result);
        if bad == pdf {
            prop_assert_eq!(result.map(|a| a.len()), Ok(2));
        }
    }

    #[test]
    fn random_object_syntax_never_panics(
        tokens in proptest::collection::vec(
            prop::sample::select(vec![
                "<<", ">>", "[", "]", "(", ")", "(a\\", "<", ">", "<FEFF", "/Names", "/Kids",
                "/EmbeddedFiles", "/Type", "/Catalog", "/Filespec", "/UF", "/EF", "/F", "2 0 R",
                "3 0 R", "1 0 R", "(a.json)", "0", "-1", "1.5", "true", "null", "%c\n", "\\",
                "#", "/A#", "stream\n", "endstream", "endobj", " ", "\r\n",
            ]),
            0..48,
        ),
    ) {
        let catalog = format!("<< /Type /Catalog /Names << /EmbeddedFiles << /Names [{}] >> >> >>", tokens.join(" "));
        let mut objects = one_file_objects(b"{}");
        objects[0] = catalog.into_bytes();
        objects[1] = format!("<< /Type /Filespec /UF {} /EF << /F 3 0 R >> >>", tokens.join("")).into_bytes();
        let result = attachments(&handmade(&objects, ""));
        check_invariants(&result);
        if let Ok(found) = &result {
            prop_assert!(found.iter().all(|a| a.bytes == b"{}"), "{:?}", found);
        }
    }
}
