//! Property tests of the crate's promise that no function panics on any input, and that
//! what the builders make the parsers take back.

use proptest::prelude::*;

use crate::arn::{queue_arn, queue_name_from_arn, SqsArn};
use crate::message::{
    check_message_attribute_name, is_valid_batch_entry_id, is_valid_body_text,
    is_valid_message_id_parameter, is_valid_number, is_valid_permission_label, DataType,
};
use crate::name::{is_valid_queue_name, validate_queue_name};
use crate::url::{queue_account_and_name, queue_name_from_url, queue_url};

proptest! {
    #[test]
    fn parsers_are_total(s in "\\PC{0,100}|[a-z0-9:/._-]{0,100}") {
        let _ = SqsArn::parse(&s);
        let _ = queue_name_from_arn(&s);
        let _ = queue_account_and_name(&s);
        let _ = queue_name_from_url(&s);
        let _ = validate_queue_name(&s, true);
        let _ = validate_queue_name(&s, false);
        let _ = check_message_attribute_name(&s);
        let _ = is_valid_number(&s);
        let _ = is_valid_body_text(&s);
        let _ = is_valid_batch_entry_id(&s);
        let _ = is_valid_permission_label(&s);
        let _ = is_valid_message_id_parameter(&s);
        let _ = DataType::of(&s);
    }

    #[test]
    fn built_names_parse_back(
        name in "[A-Za-z0-9_-]{1,75}",
        fifo in any::<bool>(),
        region in "[a-z]{2}-[a-z]{4,9}-[1-9]",
        account in "[0-9]{12}",
    ) {
        let name = if fifo { format!("{name}.fifo") } else { name };
        prop_assert!(is_valid_queue_name(&name));
        let arn = queue_arn(&region, &account, &name);
        let parsed = SqsArn::parse(&arn).unwrap();
        prop_assert_eq!((parsed.region, parsed.account, parsed.name), (&region[..], &account[..], &name[..]));
        prop_assert_eq!(parsed.is_fifo(), fifo);
        let url = queue_url("http://localhost:9324", &account, &name);
        prop_assert_eq!(queue_account_and_name(&url), Some((&account[..], &name[..])));
    }
}
