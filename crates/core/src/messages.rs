//! Alert texts a warehouse manager understands: what happened, to which entity, the value
//! against what was expected, the main reasons, and what to check. Turkish by default,
//! English on request.
//!
//! Over 400 lines on purpose: one text per kind of finding, in Turkish and English, side by side.

/// Everything a message names.
pub struct AlertFacts<'a> {
    pub metric_type: &'a str,
    pub entity_id: &'a str,
    pub value: f64,
    pub expected: Option<f64>,
    pub deviation_percent: Option<f64>,
    pub severity: &'a str,
    /// Main reasons: (feature name, share of the score), most important first.
    pub reasons: &'a [(String, f64)],
    /// Sign of the dominant deviation the detector reported: 1 above normal, -1 below, 0 none.
    pub direction: i8,
    /// What the series itself shows around the alert (refill times, unchanged run).
    pub context: SeriesContext,
}

/// What was found, in the business's terms: decides the message's wording and numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The value is far above normal (consumption, custody usage, stock gain).
    Spike,
    /// The value is far below normal.
    Drop,
    /// The same value repeated improbably long (a stuck sensor or an outage).
    Stuck,
    /// The stock fell below its usual minimum: the refill that normally comes did not.
    MissingRefill,
    /// Stock falling faster than recorded consumption explains.
    Leak,
    /// Stock rising without a refill or anything recorded to explain it.
    UnexplainedGain,
    /// A refill that took far longer than usual for its amount.
    SlowRefill,
    /// A refill that landed below the usual level.
    RefillShortfall,
    /// A jump to a new level.
    LevelShift,
    /// Unusual pattern without a dominant direction.
    Unusual,
}

/// Facts about the series at the alert's peak that make the message concrete.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesContext {
    /// Hours since the last refill (a large upward jump) before the peak.
    pub hours_since_refill: Option<f64>,
    /// Median hours between refills in the series read.
    pub usual_refill_hours: Option<f64>,
    /// Hours the value had stayed exactly the same at the peak.
    pub unchanged_hours: Option<f64>,
    /// The last different value before the peak.
    pub previous_value: Option<f64>,
}

const HOUR_US: f64 = 3_600_000_000.0;

/// Computes [`SeriesContext`] at `peak` from a series' timestamps (µs, increasing) and values.
/// A refill is a rise of more than a quarter of the series' range in one step.
pub fn series_context(ts: &[i64], value: &[f64], peak: usize) -> SeriesContext {
    let n = ts.len().min(value.len());
    if n == 0 || peak >= n {
        return SeriesContext::default();
    }
    let (lo, hi) = value[..=peak].iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    let jump = 0.25 * (hi - lo);
    let refills: Vec<usize> = if jump > 0.0 { (1..=peak).filter(|&i| value[i] - value[i - 1] > jump).collect() } else { Vec::new() };
    let hours = |a: usize, b: usize| (ts[b] - ts[a]) as f64 / HOUR_US;
    let hours_since_refill = refills.last().map(|&j| hours(j, peak));
    let mut gaps: Vec<f64> = refills.windows(2).map(|w| hours(w[0], w[1])).collect();
    gaps.sort_by(|a, b| a.total_cmp(b));
    let usual_refill_hours = (!gaps.is_empty()).then(|| gaps[gaps.len() / 2]);
    let mut start = peak;
    while start > 0 && value[start - 1] == value[peak] {
        start -= 1;
    }
    let unchanged_hours = (start < peak).then(|| hours(start, peak));
    let previous_value = (start > 0).then(|| value[start - 1]);
    SeriesContext { hours_since_refill, usual_refill_hours, unchanged_hours, previous_value }
}

/// The kind of finding: from the detector's main reason (its readable input names, or the
/// stored feature names of an isolation forest), the direction, and the metric type.
pub fn classify(metric_type: &str, direction: i8, value: f64, expected: Option<f64>, reasons: &[(String, f64)]) -> Finding {
    let dir = if direction != 0 {
        direction
    } else {
        match expected {
            Some(e) if value > e + 1e-9 * e.abs().max(1.0) => 1,
            Some(e) if value < e - 1e-9 * e.abs().max(1.0) => -1,
            _ => 0,
        }
    };
    let top = reasons.first().map(|(r, _)| r.as_str()).unwrap_or("");
    if top.contains("repeated") || top == "run_length" || top == "days_since_change" {
        return Finding::Stuck;
    }
    if top.contains("below its usual minimum") || top == "hours_since_jump" {
        return Finding::MissingRefill;
    }
    if top.contains("refill landed below") {
        return Finding::RefillShortfall;
    }
    if (top.contains("not explained by consumption") || top == "stock_residual" || top == "drop_rate") && dir < 0 {
        return Finding::Leak;
    }
    if (top.contains("not explained by consumption") || top == "stock_residual") && dir > 0 {
        return Finding::UnexplainedGain;
    }
    if top.contains("jump from the previous value") {
        return Finding::LevelShift;
    }
    if metric_type == "dolum_sure" && dir > 0 {
        return Finding::SlowRefill;
    }
    match dir {
        1.. => Finding::Spike,
        0 => Finding::Unusual,
        _ => Finding::Drop,
    }
}

fn fmt_hours(h: f64, english: bool) -> String {
    match (h >= 48.0, english) {
        (true, false) => format!("{:.1} gün", h / 24.0),
        (true, true) => format!("{:.1} days", h / 24.0),
        (false, false) => format!("{h:.0} saat"),
        (false, true) => format!("{h:.0} hours"),
    }
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn severity_word(severity: &str, english: bool) -> &'static str {
    match (severity, english) {
        ("kritik", false) => "Kritik",
        ("yuksek", false) => "Yüksek",
        ("orta", false) => "Orta",
        (_, false) => "Düşük",
        ("kritik", true) => "Critical",
        ("yuksek", true) => "High",
        ("orta", true) => "Medium",
        (_, true) => "Low",
    }
}

fn what(metric_type: &str, english: bool) -> (&'static str, &'static str) {
    // (subject, unit)
    match (metric_type, english) {
        ("stok_seviye", false) => ("stok seviyesi", "adet"),
        ("tuketim_miktar", false) => ("tüketim", "adet"),
        ("dolum_sure", false) => ("dolum süresi", "dk"),
        ("zimmet_kullanim", false) => ("zimmet kullanımı", "adet"),
        (_, false) => ("değer", ""),
        ("stok_seviye", true) => ("stock level", "units"),
        ("tuketim_miktar", true) => ("consumption", "units"),
        ("dolum_sure", true) => ("refill duration", "min"),
        ("zimmet_kullanim", true) => ("custody usage", "units"),
        (_, true) => ("value", ""),
    }
}

fn action(metric_type: &str, above: bool, english: bool) -> &'static str {
    match (metric_type, above, english) {
        ("stok_seviye", false, false) => "Rafı ve depo kayıtlarını kontrol edin: fire, kayıp veya kayda geçmemiş çıkış olabilir; gerekiyorsa dolum planlayın.",
        ("stok_seviye", true, false) => "Son dolum ve sayım kayıtlarını kontrol edin: mükerrer giriş veya hatalı sayım olabilir.",
        ("tuketim_miktar", true, false) => "Tüketim kayıtlarını ve doluluk durumunu kontrol edin; stok erken bitebilir, dolumu öne alın.",
        ("tuketim_miktar", false, false) => "Tüketimin neden durduğunu kontrol edin: sensör, kayıt sistemi veya ürün erişimi arızalı olabilir.",
        ("dolum_sure", _, false) => "Dolum ekibi ve tedarik sürecini kontrol edin; gecikme devam ederse tedarikçiyle görüşün.",
        ("zimmet_kullanim", _, false) => "Zimmet kayıtlarını personel bazında kontrol edin; yetkisiz veya kayıtsız kullanım olabilir.",
        (_, _, false) => "Kaydı kontrol edin ve gerekirse yanlış alarm olarak işaretleyin.",
        ("stok_seviye", false, true) => "Check the shelf and the stock records: shrinkage, loss or an unrecorded withdrawal is possible; plan a refill if needed.",
        ("stok_seviye", true, true) => "Check the latest refill and count records: a duplicate entry or a miscount is possible.",
        ("tuketim_miktar", true, true) => "Check consumption records and occupancy; stock may run out early, bring the refill forward.",
        ("tuketim_miktar", false, true) => "Check why consumption stopped: the sensor, the recording system or access to the product may be failing.",
        ("dolum_sure", _, true) => "Check the refill team and the supply process; if the delay persists, contact the supplier.",
        ("zimmet_kullanim", _, true) => "Check custody records per staff member; unauthorised or unrecorded use is possible.",
        (_, _, true) => "Check the record and mark it as a false positive if it is not an anomaly.",
    }
}

/// Readable name of a feature in a message.
pub fn feature_label(feature: &str, english: bool) -> String {
    let tr = match feature {
        "value" | "metric_value" => "değerin kendisi",
        "seasonal_zscore" => "aynı saatlere göre sapma",
        "zscore_7" => "7 günlük ortalamaya göre sapma",
        "diff_lag_1" => "dünkü değere göre fark",
        "drop_rate" => "düşüş hızı",
        "run_length" => "değişmeyen değer süresi",
        "days_since_change" => "son değişimden beri geçen süre",
        "hours_since_jump" => "son dolumdan beri geçen süre",
        "volatility" => "dalgalanma",
        "trend_slope" => "eğilim",
        "momentum" => "momentum",
        "stock_residual" | "stock_vs_consumption" => "tüketimle açıklanamayan stok değişimi",
        // The detector's readable input names.
        "count vs usual for this hour" => "bu saat için olağan miktara göre sapma",
        "1-hour total vs usual" => "1 saatlik toplamın olağana göre sapması",
        "4-hour total vs usual" => "4 saatlik toplamın olağana göre sapması",
        "24-hour total vs usual" => "24 saatlik toplamın olağana göre sapması",
        "shift within the last 24 hours vs usual" => "son 24 saatteki kaymanın olağana göre sapması",
        "same value repeated improbably long (stuck or outage)" => "aynı değerin olağandışı uzun tekrarı (takılma veya kesinti)",
        "stock change not explained by consumption, 1 hour" => "tüketimle açıklanamayan stok değişimi (1 saat)",
        "stock change not explained by consumption, 4 hours" => "tüketimle açıklanamayan stok değişimi (4 saat)",
        "stock change not explained by consumption, 24 hours" => "tüketimle açıklanamayan stok değişimi (24 saat)",
        "stock below its usual minimum" => "stok olağan alt seviyesinin altında",
        "stock below its usual minimum, or there longer than usual" => "stok olağan alt seviyesinin altında veya orada olağandan uzun süredir",
        "refill landed below the usual level" => "dolum olağan seviyenin altında kaldı",
        "refill duration vs usual for the amount" => "miktara göre olağan dolum süresinden sapma",
        "value vs usual for this hour" => "bu saat için olağan değere göre sapma",
        "1-hour deviation from usual" => "1 saatlik sapma",
        "4-hour deviation from usual" => "4 saatlik sapma",
        "jump from the previous value" => "önceki değere göre sıçrama",
        "same value repeated unusually long" => "aynı değerin olağandışı uzun tekrarı",
        // the sequence family (`detect::seq`)
        "sequence_context" => "son değerlerin olağandışı sırası",
        _ => "",
    };
    if english || tr.is_empty() {
        // Stored feature names read better with spaces; the detector's labels already do.
        feature.replace('_', " ")
    } else {
        tr.to_string()
    }
}

/// The headline of a finding: what is wrong, with the numbers that show it.
fn headline(f: &AlertFacts, finding: Finding, english: bool) -> String {
    let (subject, unit) = what(f.metric_type, english);
    let sev = severity_word(f.severity, english);
    let u = |v: f64| if unit.is_empty() { fmt_num(v) } else { format!("{} {unit}", fmt_num(v)) };
    let e = f.entity_id;
    let value = u(f.value);
    let expected = f.expected.map(u);
    // an expected value without a percentage is near zero (`row::deviation_percent`): say so
    let near_zero = f.expected.is_some() && f.deviation_percent.is_none();
    let dev = match f.deviation_percent {
        Some(d) => format!(" ({}{:.0}%)", if d >= 0.0 { "+" } else { "" }, d),
        None if near_zero && english => " (the expected value is near zero, so no percentage is given)".to_string(),
        None if near_zero => " (beklenen değer sıfıra yakın, yüzde sapma verilmedi)".to_string(),
        None => String::new(),
    };
    let c = &f.context;
    match (finding, english) {
        (Finding::MissingRefill, false) => {
            let mut m = format!("{e} için dolum gecikiyor ({sev}): stok {value}");
            if let Some(h) = c.hours_since_refill {
                m.push_str(&format!(", son dolumdan bu yana {} geçti", fmt_hours(h, false)));
                if let Some(u) = c.usual_refill_hours.filter(|u| h > *u) {
                    m.push_str(&format!(" (olağan aralık yaklaşık {}, dolum {} gecikti)", fmt_hours(u, false), fmt_hours(h - u, false)));
                }
            } else {
                m.push_str(", olağan en düşük seviyenin altında");
            }
            m
        }
        (Finding::MissingRefill, true) => {
            let mut m = format!("Refill overdue for {e} ({sev}): stock {value}");
            if let Some(h) = c.hours_since_refill {
                m.push_str(&format!(", {} since the last refill", fmt_hours(h, true)));
                if let Some(u) = c.usual_refill_hours.filter(|u| h > *u) {
                    m.push_str(&format!(" (usually every {}, {} late)", fmt_hours(u, true), fmt_hours(h - u, true)));
                }
            } else {
                m.push_str(", below its usual minimum");
            }
            m
        }
        (Finding::Stuck, false) => match c.unchanged_hours {
            Some(h) => format!("{e} için {subject} {} boyunca değişmedi ({sev}): {value}; sensör veya kayıt takılmış ya da kesinti olabilir", fmt_hours(h, false)),
            None => format!("{e} için {subject} olağandışı uzun süre aynı kaldı ({sev}): {value}"),
        },
        (Finding::Stuck, true) => match c.unchanged_hours {
            Some(h) => format!("{subject} of {e} unchanged for {} ({sev}): {value}; a stuck sensor, stuck recording or an outage", fmt_hours(h, true)),
            None => format!("{subject} of {e} unchanged improbably long ({sev}): {value}"),
        },
        (Finding::Leak, false) => match f.expected {
            Some(x) => format!("{e} stokunda tüketimle açıklanamayan kayıp ({sev}): stok {value}, tüketime göre beklenen yaklaşık {} ({} eksik)", u(x), u(x - f.value)),
            None => format!("{e} stokunda tüketimle açıklanamayan kayıp ({sev}): stok {value}"),
        },
        (Finding::Leak, true) => match f.expected {
            Some(x) => format!("Stock loss not explained by consumption at {e} ({sev}): stock {value}, consumption explains about {} ({} missing)", u(x), u(x - f.value)),
            None => format!("Stock loss not explained by consumption at {e} ({sev}): stock {value}"),
        },
        (Finding::UnexplainedGain, false) => match f.expected {
            Some(x) => format!("{e} stokunda açıklanamayan artış ({sev}): stok {value}, tüketime göre beklenen yaklaşık {} ({} fazla)", u(x), u(f.value - x)),
            None => format!("{e} stokunda açıklanamayan artış ({sev}): stok {value}"),
        },
        (Finding::UnexplainedGain, true) => match f.expected {
            Some(x) => format!("Stock gain nothing recorded explains at {e} ({sev}): stock {value}, consumption explains about {} ({} extra)", u(x), u(f.value - x)),
            None => format!("Stock gain nothing recorded explains at {e} ({sev}): stock {value}"),
        },
        (Finding::SlowRefill, false) => match f.expected.filter(|x| *x > 0.0 && !near_zero) {
            Some(x) => format!("{e} için dolum uzun sürdü ({sev}): {value}, olağan yaklaşık {} ({:.1} kat)", u(x), f.value / x),
            None if near_zero => format!("{e} için dolum uzun sürdü ({sev}): {value}; olağan değer sıfıra yakın, kat ve yüzde verilmedi"),
            None => format!("{e} için dolum uzun sürdü ({sev}): {value}"),
        },
        (Finding::SlowRefill, true) => match f.expected.filter(|x| *x > 0.0 && !near_zero) {
            Some(x) => format!("Slow refill at {e} ({sev}): {value}, usually about {} ({:.1}x)", u(x), f.value / x),
            None if near_zero => format!("Slow refill at {e} ({sev}): {value}; the usual value is near zero, so no ratio or percentage is given"),
            None => format!("Slow refill at {e} ({sev}): {value}"),
        },
        (Finding::RefillShortfall, false) => format!(
            "{e} için dolum eksik kaldı ({sev}): dolum sonrası {value}{}",
            expected.as_ref().map(|x| format!(", olağan yaklaşık {x}")).unwrap_or_default()
        ),
        (Finding::RefillShortfall, true) => format!(
            "Short refill at {e} ({sev}): {value} after the refill{}",
            expected.as_ref().map(|x| format!(", usually about {x}")).unwrap_or_default()
        ),
        (Finding::LevelShift, false) => match c.previous_value {
            Some(p) => format!("{e} için {subject} yeni bir seviyeye geçti ({sev}): {} → {value}", u(p)),
            None => format!("{e} için {subject} ani seviye değişimi ({sev}): {value}"),
        },
        (Finding::LevelShift, true) => match c.previous_value {
            Some(p) => format!("Level shift in {subject} of {e} ({sev}): {} → {value}", u(p)),
            None => format!("Level shift in {subject} of {e} ({sev}): {value}"),
        },
        (Finding::Spike | Finding::Drop, false) => {
            let kind = if finding == Finding::Spike { "ani yükseldi" } else { "ani düştü" };
            let mut m = format!("{e} için {subject} {kind} ({sev}): {value}");
            if let Some(x) = &expected {
                m.push_str(&format!(", beklenen yaklaşık {x}{dev}"));
            }
            m
        }
        (Finding::Spike | Finding::Drop, true) => {
            let kind = if finding == Finding::Spike { "Spike" } else { "Drop" };
            let mut m = format!("{kind} in {subject} of {e} ({sev}): {value}");
            if let Some(x) = &expected {
                m.push_str(&format!(", expected about {x}{dev}"));
            }
            m
        }
        // The value itself is ordinary: what is unusual is the pattern the reasons name.
        (Finding::Unusual, false) => format!("{e} için {subject} olağandışı bir örüntü gösteriyor ({sev}): {value}"),
        (Finding::Unusual, true) => format!("Unusual pattern in {subject} of {e} ({sev}): {value}"),
    }
}

/// The alert's message and suggested action.
pub fn alert_text(f: &AlertFacts, english: bool) -> (String, String) {
    let finding = classify(f.metric_type, f.direction, f.value, f.expected, f.reasons);
    let reasons: Vec<String> = f
        .reasons
        .iter()
        .take(3)
        .map(|(name, share)| format!("{} ({:.0}%)", feature_label(name, english), share * 100.0))
        .collect();
    let mut msg = headline(f, finding, english);
    msg.push('.');
    if !reasons.is_empty() {
        msg.push_str(&if english { format!(" Main reasons: {}.", reasons.join(", ")) } else { format!(" Başlıca nedenler: {}.", reasons.join(", ")) });
    }
    if msg.len() > 1000 {
        let mut cut = 1000;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
    }
    let above = match finding {
        Finding::MissingRefill | Finding::Leak | Finding::Drop | Finding::RefillShortfall => false,
        Finding::Spike | Finding::SlowRefill | Finding::UnexplainedGain => true,
        _ => f.deviation_percent.map(|d| d >= 0.0).unwrap_or(true),
    };
    let action = match (finding, english) {
        (Finding::MissingRefill, false) => "Dolum planını ve tedarikçiyi kontrol edin; stok bitmeden dolum yapın.",
        (Finding::MissingRefill, true) => "Check the refill plan and the supplier; refill before the stock runs out.",
        (Finding::Stuck, false) => "Sensörü veya kayıt sistemini kontrol edin: değer güncellenmiyor olabilir.",
        (Finding::Stuck, true) => "Check the sensor or the recording system: the value may not be updating.",
        _ => action(f.metric_type, above, english),
    };
    (msg, action.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(metric_type: &'a str, value: f64, expected: Option<f64>, direction: i8, reasons: &'a [(String, f64)]) -> AlertFacts<'a> {
        let deviation_percent = crate::row::deviation_percent(value, expected);
        AlertFacts {
            metric_type,
            entity_id: "urun_0042",
            value,
            expected,
            deviation_percent,
            severity: "kritik",
            reasons,
            direction,
            context: SeriesContext::default(),
        }
    }

    fn r(name: &str) -> Vec<(String, f64)> {
        vec![(name.to_string(), 0.7)]
    }

    #[test]
    fn turkish_and_english_name_entity_value_expected_and_reasons() {
        let reasons = vec![("seasonal_zscore".to_string(), 0.6), ("drop_rate".to_string(), 0.3)];
        let f = facts("stok_seviye", 12.0, Some(80.0), -1, &reasons);
        let (tr, tr_action) = alert_text(&f, false);
        assert!(tr.contains("urun_0042") && tr.contains("12") && tr.contains("80") && tr.contains("-85%"), "{tr}");
        assert!(tr.contains("aynı saatlere göre sapma (60%)") && tr.contains("Kritik") && tr.contains("ani düştü"), "{tr}");
        assert!(tr_action.contains("fire"), "{tr_action}");
        let (en, en_action) = alert_text(&f, true);
        assert!(en.starts_with("Drop in stock level of urun_0042 (Critical): 12 units, expected about 80 units (-85%)"), "{en}");
        assert!(en.contains("seasonal zscore (60%)"), "{en}");
        assert!(en_action.starts_with("Check the shelf"), "{en_action}");
    }

    /// An expected value near zero gives no percentage, and the message says why in words
    /// (it read "27 dk, beklenen yaklaşık 0.0 dk (+2693371694875%)").
    #[test]
    fn expected_near_zero_says_so_instead_of_a_percentage() {
        let reasons = r("count vs usual for this hour");
        let f = facts("tuketim_miktar", 27.0, Some(1e-8), 1, &reasons);
        assert_eq!(f.deviation_percent, None);
        let (tr, _) = alert_text(&f, false);
        let (en, _) = alert_text(&f, true);
        assert!(tr.contains("beklenen değer sıfıra yakın, yüzde sapma verilmedi"), "{tr}");
        assert!(!tr.contains("+2"), "{tr}");
        assert!(en.contains("the expected value is near zero, so no percentage is given"), "{en}");
        assert!(!en.contains("+2"), "{en}");
        let reasons = r("refill duration vs usual for the amount");
        let f = facts("dolum_sure", 27.0, Some(1e-8), 1, &reasons);
        let (tr, _) = alert_text(&f, false);
        let (en, _) = alert_text(&f, true);
        assert!(tr.contains("olağan değer sıfıra yakın, kat ve yüzde verilmedi") && !tr.contains("kat)"), "{tr}");
        assert!(en.contains("the usual value is near zero, so no ratio or percentage is given") && !en.contains("x)"), "{en}");
    }

    #[test]
    fn no_expected_value_and_no_reasons_still_reads_well() {
        let f = AlertFacts { severity: "dusuk", entity_id: "e", ..facts("other", 1.25, None, 0, &[]) };
        let (en, _) = alert_text(&f, true);
        assert_eq!(en, "Unusual pattern in value of e (Low): 1.2.");
    }

    /// A stock at 0 where 0 was expected is not "critical: 0 against 0": a missing refill says
    /// that the refill is overdue and by how long.
    #[test]
    fn missing_refill_says_overdue_and_by_how_long() {
        let reasons = r("stock below its usual minimum");
        let mut f = facts("stok_seviye", 0.0, Some(0.0), -1, &reasons);
        f.context = SeriesContext { hours_since_refill: Some(60.0), usual_refill_hours: Some(24.0), ..Default::default() };
        assert_eq!(classify("stok_seviye", -1, 0.0, Some(0.0), &reasons), Finding::MissingRefill);
        let (tr, action) = alert_text(&f, false);
        assert!(tr.starts_with("urun_0042 için dolum gecikiyor (Kritik): stok 0 adet, son dolumdan bu yana 2.5 gün geçti (olağan aralık yaklaşık 24 saat, dolum 36 saat gecikti)"), "{tr}");
        assert!(!tr.contains("beklenen"), "{tr}");
        assert!(action.contains("dolum"), "{action}");
        let (en, _) = alert_text(&f, true);
        assert!(en.starts_with("Refill overdue for urun_0042 (Critical): stock 0 units, 2.5 days since the last refill (usually every 24 hours, 36 hours late)"), "{en}");
    }

    #[test]
    fn each_kind_of_finding_names_what_is_wrong() {
        let cases: Vec<(&str, f64, Option<f64>, i8, &str, SeriesContext, &str, &str)> = vec![
            ("tuketim_miktar", 120.0, Some(40.0), 1, "4-hour total vs usual", SeriesContext::default(),
             "tüketim ani yükseldi (Kritik): 120 adet, beklenen yaklaşık 40 adet (+200%)", "Spike in consumption of urun_0042 (Critical): 120 units, expected about 40 units (+200%)"),
            ("tuketim_miktar", 0.0, Some(40.0), -1, "count vs usual for this hour", SeriesContext::default(),
             "tüketim ani düştü (Kritik): 0 adet, beklenen yaklaşık 40 adet (-100%)", "Drop in consumption"),
            ("zimmet_kullanim", 3.0, Some(3.0), 0, "same value repeated improbably long (stuck or outage)",
             SeriesContext { unchanged_hours: Some(30.0), ..Default::default() },
             "zimmet kullanımı 30 saat boyunca değişmedi (Kritik): 3 adet", "custody usage of urun_0042 unchanged for 30 hours"),
            ("stok_seviye", 40.0, Some(75.0), -1, "stock change not explained by consumption, 4 hours", SeriesContext::default(),
             "stokunda tüketimle açıklanamayan kayıp (Kritik): stok 40 adet, tüketime göre beklenen yaklaşık 75 adet (35 adet eksik)", "(35 units missing)"),
            ("stok_seviye", 34.0, Some(33.0), 1, "stock change not explained by consumption, 1 hour", SeriesContext::default(),
             "stokunda açıklanamayan artış (Kritik): stok 34 adet, tüketime göre beklenen yaklaşık 33 adet (1 adet fazla)", "(1 units extra)"),
            ("dolum_sure", 377.0, Some(87.0), 1, "refill duration vs usual for the amount", SeriesContext::default(),
             "dolum uzun sürdü (Kritik): 377 dk, olağan yaklaşık 87 dk (4.3 kat)", "Slow refill at urun_0042 (Critical): 377 min, usually about 87 min (4.3x)"),
            ("stok_seviye", 40.0, Some(95.0), -1, "refill landed below the usual level", SeriesContext::default(),
             "dolum eksik kaldı (Kritik): dolum sonrası 40 adet, olağan yaklaşık 95 adet", "Short refill"),
            ("other", 90.0, Some(40.0), 1, "jump from the previous value", SeriesContext { previous_value: Some(40.0), ..Default::default() },
             "değer yeni bir seviyeye geçti (Kritik): 40 → 90", "Level shift in value of urun_0042 (Critical): 40 → 90"),
        ];
        for (mt, v, x, d, reason, ctx, tr_want, en_want) in cases {
            let reasons = r(reason);
            let mut f = facts(mt, v, x, d, &reasons);
            f.context = ctx;
            let (tr, _) = alert_text(&f, false);
            let (en, _) = alert_text(&f, true);
            assert!(tr.contains(tr_want), "{reason}: {tr}");
            assert!(en.contains(en_want), "{reason}: {en}");
        }
    }

    #[test]
    fn series_context_finds_refills_and_unchanged_runs() {
        // Stock refilled to 100 every 24 h, falling 4 an hour; the last refill 40 h before the end.
        let mut ts = Vec::new();
        let mut v = Vec::new();
        for h in 0..112i64 {
            ts.push(h * 3_600_000_000);
            let since = if h < 72 { h % 24 } else { h - 72 };
            v.push((100.0 - 4.0 * since as f64).max(0.0));
        }
        let c = series_context(&ts, &v, 111);
        assert_eq!(c.hours_since_refill, Some(39.0));
        assert_eq!(c.usual_refill_hours, Some(24.0));
        // 0 since hour 97 (100 - 4 * 25): unchanged for 14 hours.
        assert_eq!(c.unchanged_hours, Some(14.0));
        assert_eq!(c.previous_value, Some(4.0));
        assert_eq!(series_context(&[], &[], 0), SeriesContext::default());
    }
}
