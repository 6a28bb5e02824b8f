//! Alert texts a warehouse manager understands: what happened, to which entity, the value
//! against what was expected, the main reasons, and what to check. Turkish by default,
//! English on request.

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
        "same value repeated improbably long (stuck or outage)" => "aynı değerin olağandışı uzun tekrarı (takılma veya kesinti)",
        "stock change not explained by consumption, 1 hour" => "tüketimle açıklanamayan stok değişimi (1 saat)",
        "stock change not explained by consumption, 4 hours" => "tüketimle açıklanamayan stok değişimi (4 saat)",
        "stock change not explained by consumption, 24 hours" => "tüketimle açıklanamayan stok değişimi (24 saat)",
        "stock below its usual minimum" => "stok olağan alt seviyesinin altında",
        "refill landed below the usual level" => "dolum olağan seviyenin altında kaldı",
        "refill duration vs usual for the amount" => "miktara göre olağan dolum süresinden sapma",
        "value vs usual for this hour" => "bu saat için olağan değere göre sapma",
        "1-hour deviation from usual" => "1 saatlik sapma",
        "4-hour deviation from usual" => "4 saatlik sapma",
        "jump from the previous value" => "önceki değere göre sıçrama",
        "same value repeated unusually long" => "aynı değerin olağandışı uzun tekrarı",
        _ => "",
    };
    if english || tr.is_empty() {
        // Stored feature names read better with spaces; the detector's labels already do.
        feature.replace('_', " ")
    } else {
        tr.to_string()
    }
}

/// The alert's message and suggested action.
pub fn alert_text(f: &AlertFacts, english: bool) -> (String, String) {
    let (subject, unit) = what(f.metric_type, english);
    let sev = severity_word(f.severity, english);
    let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
    let value = fmt_num(f.value);
    let expected = f.expected.map(fmt_num);
    let dev = f.deviation_percent.map(|d| format!("{}{:.0}%", if d >= 0.0 { "+" } else { "" }, d));
    let reasons: Vec<String> = f
        .reasons
        .iter()
        .take(3)
        .map(|(name, share)| format!("{} ({:.0}%)", feature_label(name, english), share * 100.0))
        .collect();
    let mut msg = if english {
        let mut m = format!("{sev} anomaly in {subject} of {}: {value}{unit}", f.entity_id);
        if let Some(e) = &expected {
            m.push_str(&format!(", expected about {e}{unit}"));
        }
        if let Some(d) = &dev {
            m.push_str(&format!(" ({d})"));
        }
        m.push('.');
        if !reasons.is_empty() {
            m.push_str(&format!(" Main reasons: {}.", reasons.join(", ")));
        }
        m
    } else {
        let mut m = format!("{} için {subject} anormal ({sev}): {value}{unit}", f.entity_id);
        if let Some(e) = &expected {
            m.push_str(&format!(", beklenen yaklaşık {e}{unit}"));
        }
        if let Some(d) = &dev {
            m.push_str(&format!(" ({d})"));
        }
        m.push('.');
        if !reasons.is_empty() {
            m.push_str(&format!(" Başlıca nedenler: {}.", reasons.join(", ")));
        }
        m
    };
    msg.truncate(1000);
    let above = f.deviation_percent.map(|d| d >= 0.0).unwrap_or(true);
    (msg, action(f.metric_type, above, english).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turkish_and_english_name_entity_value_expected_and_reasons() {
        let reasons = vec![("seasonal_zscore".to_string(), 0.6), ("drop_rate".to_string(), 0.3)];
        let f = AlertFacts {
            metric_type: "stok_seviye",
            entity_id: "urun_0042",
            value: 12.0,
            expected: Some(80.0),
            deviation_percent: Some(-85.0),
            severity: "kritik",
            reasons: &reasons,
        };
        let (tr, tr_action) = alert_text(&f, false);
        assert!(tr.contains("urun_0042") && tr.contains("12") && tr.contains("80") && tr.contains("-85%"), "{tr}");
        assert!(tr.contains("aynı saatlere göre sapma (60%)") && tr.contains("Kritik"), "{tr}");
        assert!(tr_action.contains("fire"), "{tr_action}");
        let detector = vec![("stock change not explained by consumption, 1 hour".to_string(), 0.5)];
        let (tr2, _) = alert_text(&AlertFacts { reasons: &detector, ..f }, false);
        assert!(tr2.contains("tüketimle açıklanamayan stok değişimi (1 saat) (50%)"), "{tr2}");
        let (en, en_action) = alert_text(&f, true);
        assert!(en.starts_with("Critical anomaly in stock level of urun_0042: 12 units, expected about 80 units (-85%)"), "{en}");
        assert!(en.contains("seasonal zscore (60%)"), "{en}");
        assert!(en_action.starts_with("Check the shelf"), "{en_action}");
    }

    #[test]
    fn no_expected_value_and_no_reasons_still_reads_well() {
        let f = AlertFacts {
            metric_type: "other",
            entity_id: "e",
            value: 1.25,
            expected: None,
            deviation_percent: None,
            severity: "dusuk",
            reasons: &[],
        };
        let (en, _) = alert_text(&f, true);
        assert_eq!(en, "Low anomaly in value of e: 1.2.");
    }
}
